"""``private_key_jwt`` client authentication (RFC 7523 section 2.2, OpenID Connect Core
section 9): the OAuth client proves itself with a JWT signed by its private key instead of a
secret, as Microsoft's certificate credentials and Okta's key-based clients ask.

Authlib sends the token request; ``AssertionAuth`` is the client-authentication hook it calls
for each one, and signs through ``oauth.jwts`` (joserfc): ``iss`` and ``sub`` the client id,
``aud`` the token endpoint (or the recipe's ``audience``), a fresh ``jti``, a short lifetime,
and ``x5t#S256`` (the certificate's SHA-256 thumbprint) when the recipe names a certificate.
For client credentials the connection's fields hold the key and certificate
(``fields_client``); for the authorization-code grant the project's OAuth client secret is
the PEM key. ``token_identity`` is the client certificate a connection presents on its token
requests (RFC 8705), whatever its client authentication.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from authlib.common.urls import add_params_to_qs

from gatekey.catalog.jwt import JwtSpec
from gatekey.catalog.oauth2 import ClientAssertion
from gatekey.catalog.schema import AuthMethod
from gatekey.domain.signing import client_tls_of
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.jwts import sign
from gatekey.signing import ClientTls

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NAME = "private_key_jwt"


def jwt_spec(spec: ClientAssertion) -> JwtSpec:
    """The JWT a client assertion is, as ``oauth.jwts`` signs it."""
    return JwtSpec(
        algorithm=spec.algorithm,
        key="client_private_key",
        certificate="client_certificate" if spec.certificate else None,
        headers={"x5t#S256": "{certificate_thumbprint}"} if spec.certificate else {},
        claims={
            "iss": "{client_id}",
            "sub": "{client_id}",
            "aud": spec.audience or "{token_endpoint}",
        },
        lifetime_seconds=spec.lifetime_seconds,
        jti=True,
    )


class AssertionAuth:
    """Authlib's ``private_key_jwt`` hook for one client: ``values`` fill the audience
    template (a tenant), ``clock`` stamps ``iat``."""

    name = NAME

    def __init__(
        self,
        spec: ClientAssertion,
        client: ClientCredentials,
        values: Mapping[str, str],
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._jwt = jwt_spec(spec)
        self._client = client
        self._values = dict(values)
        self._clock = clock
        # a key that is not one is named as the recipe names it
        self._field_of = {"client_private_key": spec.private_key}
        if spec.certificate:
            self._field_of["client_certificate"] = spec.certificate

    def __call__(
        self, auth: Any, method: str, uri: str, headers: Any, body: Any
    ) -> tuple[str, Any, Any]:
        del auth, method
        client = self._client
        values = {
            **self._values,
            "client_id": client.client_id,
            "client_private_key": client.client_secret,
            "token_endpoint": uri.split("?", 1)[0],
        }
        if client.certificate:
            values["client_certificate"] = client.certificate
        assertion = sign(self._jwt, values, now=self._clock(), field_of=self._field_of)
        body = add_params_to_qs(
            body or "",
            [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)],
        )
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(body))
        return uri, headers, body


def fields_client(method: AuthMethod, secret: Mapping[str, Any]) -> ClientCredentials:
    """The OAuth client a client-credentials connection's fields are: its id and secret, or
    for ``private_key_jwt`` its id, private key and certificate."""
    spec = method.oauth2.client_assertion if method.oauth2 is not None else None
    if method.oauth2 is not None and method.oauth2.tls_client_auth:
        return ClientCredentials(str(secret["client_id"]), "")  # the certificate is the proof
    if spec is None:
        return ClientCredentials(str(secret["client_id"]), str(secret["client_secret"]))
    certificate = secret.get(spec.certificate) if spec.certificate else None
    return ClientCredentials(
        str(secret["client_id"]),
        str(secret[spec.private_key]),
        certificate=str(certificate) if certificate else None,
    )


def token_identity(method: AuthMethod, secret: Mapping[str, Any]) -> ClientTls | None:
    """The client certificate a connection presents on its token requests (RFC 8705), if
    its method has one there and its fields hold it."""
    pair = client_tls_of(method, secret, token_requests=True)
    return ClientTls(certificate=pair[0], private_key=pair[1]) if pair else None
