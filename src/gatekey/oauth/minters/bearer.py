"""The ``jwt_bearer`` minter: a JWT signed with the connection's key, traded for an access token
at the app's token endpoint (RFC 7523 section 2.1).

Google service accounts sign ``iss`` (the account's email), ``scope`` (the scopes asked, in the
claim rather than the request; a recipe whose claims do not hold ``{scopes}`` sends them as the
request's ``scope`` parameter, as RFC 7523 section 2.1 says), ``aud`` (the token URL) and, for
domain-wide delegation, ``sub`` (the mailbox to act as); Salesforce and ServiceNow sign the
connected app's consumer key as ``iss`` and the user as ``sub``; a ServiceNow endpoint that is
not a public client also wants its client id and secret, which the connection's fields hold.
The JWT is signed by ``oauth.jwts``, the request is Authlib's
(``ProviderClient.assertion_grant``), and its answer is sorted into the classes the refresher
acts on: ``invalid_grant`` (a key the provider refuses, a user who may not be acted as) is
``GrantRevoked`` with the provider's words, 5xx, 429 and timeouts are
``ProviderUnavailable``. Values the answer brings as config (Salesforce's
``instance_url``) are the method's ``oauth2.token_response_config``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from gatekey.errors import InvalidFields
from gatekey.oauth.client_assertions import token_identity
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.jwts import sign
from gatekey.oauth.minting import Mint
from gatekey.oauth.provider import ProviderClient
from gatekey.oauth.token_answers import TokenResponse


class JwtBearerMinter:
    """Signs the recipe's assertion at ``clock()`` and trades it through ``provider``."""

    def __init__(self, provider: ProviderClient, *, clock: Callable[[], datetime]) -> None:
        self._provider = provider
        self._clock = clock

    def mint(self, request: Mint) -> TokenResponse:
        method = request.method
        spec, oauth2 = method.assertion, method.oauth2
        assert spec is not None and oauth2 is not None  # the schema requires both
        values = request.values()
        sent_at = self._clock()
        scopes = request.scopes or oauth2.default_scopes
        assertion = sign(
            spec,
            values,
            now=sent_at,
            scopes=scopes,
            scope_separator=oauth2.scope_separator,
            field_of=request.field_of(),
        )
        # RFC 7523 section 2.1 asks for scopes in the request's `scope` parameter; Google wants
        # them in the assertion's claim instead, and a recipe that puts them there sends none.
        in_claims = any("{scopes}" in template for template in spec.claims.values())
        scope = None if in_claims or not scopes else oauth2.scope_separator.join(scopes)
        answer = self._provider.assertion_grant(
            oauth2,
            values,
            request.client or _own_client(request, values),
            app_name=request.app.name,
            assertion=assertion,
            scope=scope,
            identity=token_identity(method, request.secret),
        )
        # expiry counts from the clock the refresher reads, as for every minter
        return TokenResponse(body=answer.body, sent_at=sent_at)


def _own_client(request: Mint, values: Mapping[str, str]) -> ClientCredentials | None:
    """The client the connection's own values name, when its fields (or its JSON key file:
    Box's app config) hold a client secret (a ServiceNow endpoint that is not a public client):
    the request authenticates it as the recipe's ``client_auth_method`` says. Without one the
    assertion is the only proof."""
    fields = request.method.fields
    if "client_secret" not in {*fields.properties, *fields.unpacked}:
        return None
    secret, client_id = values.get("client_secret"), values.get("client_id")
    if not secret:
        return None
    if not client_id:  # a key file without its client id, or the field left empty
        field = request.field_of().get("client_id", "client_id")
        raise InvalidFields(
            f"{field}: a client id is needed with the client secret",
            errors=[{"field": field, "message": "a client id is needed with the client secret"}],
        )
    return ClientCredentials(client_id, secret)
