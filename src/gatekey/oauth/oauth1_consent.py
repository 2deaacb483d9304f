"""The three legs of OAuth 1.0a (RFC 5849 section 2), signed by Authlib's ``OAuth1Auth``.

1. ``request_token``: ask the provider for temporary credentials with the callback (signed
   with the consumer's key and secret, or its RSA key); the answer must confirm the callback
   (``oauth_callback_confirmed=true``: the 1.0a fix for session fixation).
2. ``authorization_url``: where the person approves, with the temporary token and the
   recipe's extra parameters (Trello: ``name``, ``scope``, ``expiration``).
3. ``access_token``: trade the verifier the callback brought for the token credentials,
   signed with the temporary token's secret too. The answer is form-encoded (Authlib's
   parser reads JSON as well) and may carry more than the two credentials (X: ``user_id``,
   ``screen_name``).

Every request goes through the apps' client (the egress guard's). A 429 or 5xx is
``ProviderUnavailable``; a refusal of the consumer is ``OAuthClientRejected``, of the
temporary token or verifier ``TokenRequestRefused``; the provider's words are quoted with the
request's secrets masked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx2
from authlib.common.urls import add_params_to_uri, url_decode
from authlib.integrations.httpx_client import OAuth1Auth

import gatekey.signers.oauth1  # noqa: F401 (registers HMAC-SHA256 and RSA-SHA1 with Authlib)
from gatekey.catalog.oauth1 import OAuth1Spec
from gatekey.domain.bodies import first_text
from gatekey.domain.masking import Masker
from gatekey.domain.templates import render
from gatekey.errors import OAuthClientRejected, TokenRequestRefused
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.minters.logins import body_json, provider_words
from gatekey.oauth.token_answers import TokenResponse
from gatekey.unreachable import overloaded, unreachable

#: The OAuth Problem Reporting extension's field, which some OAuth 1.0a servers answer with.
PROBLEM_FIELDS = ("oauth_problem", "error_description", "error")


@dataclass(frozen=True)
class Temporary:
    """The temporary credentials of the first leg."""

    token: str
    secret: str = field(repr=False)


def _words(response: httpx2.Response, masked: Masker) -> str:
    """The provider's words: JSON or plain text (``provider_words``; X's ``errors`` list),
    else a form-encoded problem report."""
    said = provider_words(response, masked)
    listed = first_text(body_json(response), ("errors.0.message",))
    if not said and listed:
        said = masked.text(listed)[:300]
    if said or len(response.content) > 1000:
        return said
    form = dict(parse_qsl(response.text))
    for name in PROBLEM_FIELDS:
        if form.get(name, "").isprintable() and form.get(name):
            return masked.text(form[name])[:300]
    return ""


class OAuth1Consent:
    """Runs the first and third legs through ``http``; ``clock`` stamps when a request left."""

    def __init__(self, http: httpx2.Client, *, clock: Callable[[], datetime]) -> None:
        self.http = http
        self.clock = clock

    def request_token(
        self,
        spec: OAuth1Spec,
        values: Mapping[str, str],
        client: ClientCredentials,
        *,
        app_name: str,
        callback_url: str,
    ) -> Temporary:
        """Temporary credentials for a consent whose callback is ``callback_url``."""
        assert spec.request_token_url is not None  # three_legged has its URLs
        auth = self._auth(spec, values, client, redirect_uri=callback_url)
        masked = Masker([client.client_secret])
        body = self._post(render(spec.request_token_url, values), auth, app_name, masked, True)
        if str(body.get("oauth_callback_confirmed", "")).lower() != "true":
            raise TokenRequestRefused(
                f"{app_name} did not confirm the callback (oauth_callback_confirmed): it does "
                "not speak OAuth 1.0a",
                app=app_name,
            )
        return Temporary(str(body["oauth_token"]), str(body["oauth_token_secret"]))

    @staticmethod
    def authorization_url(spec: OAuth1Spec, values: Mapping[str, str], token: str) -> str:
        """Where the person approves the temporary credentials ``token``."""
        assert spec.authorization_url is not None
        extra = {k: render(v, values) for k, v in spec.extra_authorize_params.items()}
        params = [*extra.items(), ("oauth_token", token)]
        return str(add_params_to_uri(render(spec.authorization_url, values), params))

    def access_token(
        self,
        spec: OAuth1Spec,
        values: Mapping[str, str],
        client: ClientCredentials,
        *,
        app_name: str,
        temporary: Temporary,
        verifier: str,
    ) -> TokenResponse:
        """Trade ``verifier`` for the token credentials; the whole answer is returned."""
        assert spec.access_token_url is not None
        auth = self._auth(
            spec, values, client, token=temporary.token, token_secret=temporary.secret
        )
        auth.verifier = verifier
        masked = Masker([client.client_secret, temporary.secret, verifier])
        sent_at = self.clock()
        body = self._post(render(spec.access_token_url, values), auth, app_name, masked, False)
        return TokenResponse(body, sent_at)

    @staticmethod
    def _auth(
        spec: OAuth1Spec,
        values: Mapping[str, str],
        client: ClientCredentials,
        **more: Any,
    ) -> OAuth1Auth:
        rsa = spec.signature_method == "RSA-SHA1"
        return OAuth1Auth(
            client_id=client.client_id,
            client_secret=None if rsa else client.client_secret,
            rsa_key=client.client_secret if rsa else None,
            signature_method=spec.signature_method,
            realm=render(spec.realm, values) if spec.realm else None,
            **more,
        )

    def _post(
        self, url: str, auth: OAuth1Auth, app_name: str, masked: Masker, first: bool
    ) -> dict[str, Any]:
        """POST one leg; its answer's parameters, with both credentials present."""
        leg = "request token" if first else "access token"
        try:
            response = self.http.post(url, auth=auth)
        except httpx2.HTTPError as exc:
            raise unreachable(exc, app=app_name) from None
        except ValueError:  # Authlib could not sign: the consumer's key is not usable
            raise OAuthClientRejected(
                f"the {app_name} OAuth client's key cannot sign the {leg} request; register "
                "the consumer key and secret (for RSA-SHA1, the PEM private key) again",
                app=app_name,
            ) from None
        busy = overloaded(
            response, who=app_name, app=app_name, context=f" to the {leg}", now=self.clock()
        )
        if busy is not None:
            raise busy
        said = _words(response, masked)
        quoted = f": {said}" if said else ""
        status = response.status_code
        if status >= 400:
            refused = OAuthClientRejected if first and status == 401 else TokenRequestRefused
            raise refused(
                f"{app_name} refused the {leg} (HTTP {status}){quoted}",
                app=app_name,
                provider_status=status,
            )
        text = response.text.strip()
        try:
            body = json.loads(text) if text.startswith("{") else dict(url_decode(text))
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("oauth_token"):
            raise TokenRequestRefused(
                f"{app_name} answered the {leg} without a token", app=app_name
            )
        if not body.get("oauth_token_secret"):
            raise TokenRequestRefused(
                f"{app_name} answered the {leg} without a token secret", app=app_name
            )
        return body
