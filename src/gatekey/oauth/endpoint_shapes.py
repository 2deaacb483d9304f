"""How each of an app's OAuth endpoints wants its requests (``OAuth2Spec.token_request`` and
``revocation_request``), told to Authlib through its own extension points.

- Client authentication per endpoint: Authlib's ``token_endpoint_auth_method`` and
  ``revocation_endpoint_auth_method``, each the endpoint's ``client_auth_method`` or else the
  spec's (Calendly: Basic at the token endpoint, ``client_id`` and ``client_secret`` in the
  revocation body).
- A JSON body (Notion's revocation): Authlib builds every token and revocation body as a form
  and, in 1.9, form-decodes whatever a request compliance hook returns before it sends it, so a
  JSON body set by a hook would be lost. The last step that sees the body is the client
  authentication, so a JSON endpoint's method is registered (``register_client_auth_method``)
  as the standard one followed by re-encoding the same parameters as a JSON object, client
  credentials included when they travel in the body.
- Extra headers (``Notion-Version``): passed as ``headers`` to ``fetch_token``,
  ``refresh_token`` and ``revoke_token``, over Authlib's defaults; Authlib 1.9 has no request
  hook for the code and client-credentials grants, and one way for all three is clearer.
- Mutual-TLS client authentication (RFC 8705 section 2: ``tls_client_auth``, a certificate
  from a CA the server trusts; ``self_signed_tls_client_auth``, one the client registered):
  the proof is the certificate on the handshake (the transport ``ProviderClient`` picks per
  certificate), and the body carries the ``client_id`` alone, which is what Authlib's ``none``
  method sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.auth import ClientAuth

from gatekey.catalog.oauth2 import EndpointShape, OAuth2Spec
from gatekey.domain.templates import render

JSON = "+json"
"""Suffix of the registered client-authentication methods that send a JSON body."""
FORM_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}
"""Authlib's own defaults for a token request, kept when headers are added."""

Sign = Callable[[Any, str, str, Any, Any], tuple[str, Any, Any]]

TLS_METHODS = ("tls_client_auth", "self_signed_tls_client_auth")
"""RFC 8705's client-authentication methods: the client's certificate is the proof."""


def auth_method(spec: OAuth2Spec, shape: EndpointShape) -> str:
    """The name of the client-authentication method Authlib is to use at this endpoint."""
    method = shape.client_auth_method or spec.client_auth_method
    return method + JSON if shape.body == "json" else method


def proof(spec: OAuth2Spec) -> str:
    """What the client proves itself with at the token endpoint, in words."""
    method = spec.token_request.client_auth_method or spec.client_auth_method
    if method in TLS_METHODS:
        return "certificate"
    return "private key" if method == "private_key_jwt" else "secret"


def client_auth_methods() -> list[tuple[str, Sign]]:
    """What to register on a client beyond Authlib's standard methods: RFC 8705's, and the
    ``+json`` variant of each."""
    standard = ClientAuth.DEFAULT_AUTH_METHODS
    forms = [*standard.items(), *((name, standard["none"]) for name in TLS_METHODS)]
    tls = [(name, standard["none"]) for name in TLS_METHODS]
    return [*tls, *((name + JSON, _as_json(sign)) for name, sign in forms)]


def headers(shape: EndpointShape, values: Mapping[str, str]) -> dict[str, str]:
    """The headers of a request to this endpoint: Authlib's defaults and the endpoint's own
    (``{placeholders}`` filled from the connection's config)."""
    return {**FORM_HEADERS, **{name: render(v, values) for name, v in shape.headers.items()}}


def _as_json(sign: Sign) -> Sign:
    def sign_then_json(
        client: Any, method: str, uri: str, headers: Any, body: Any
    ) -> tuple[str, Any, Any]:
        uri, headers, body = sign(client, method, uri, headers, body)
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        encoded = json.dumps(dict(parse_qsl(text, keep_blank_values=True))).encode()
        headers["Content-Type"] = "application/json"
        return uri, headers, encoded

    return sign_then_json
