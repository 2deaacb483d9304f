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


def auth_method(spec: OAuth2Spec, shape: EndpointShape) -> str:
    """The name of the client-authentication method Authlib is to use at this endpoint."""
    method = shape.client_auth_method or spec.client_auth_method
    return method + JSON if shape.body == "json" else method


def json_methods() -> list[tuple[str, Sign]]:
    """The ``+json`` variant of each of Authlib's standard methods, to register on a client."""
    return [(name + JSON, _as_json(sign)) for name, sign in ClientAuth.DEFAULT_AUTH_METHODS.items()]


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
