"""Who answered the sign-in: the callback's ``iss`` (RFC 9207), checked before anything else
in it, by exact string comparison with the app's declared ``issuer`` or the one the server's
metadata (RFC 8414) names, never with a guessed origin (Xero, Microsoft and Salesforce My
Domain answer from other hosts than their authorization URLs)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from gatekey.catalog.schema import App, OAuth2Spec
from gatekey.domain.templates import render
from gatekey.errors import IssuerMismatch
from gatekey.oauth.provider import ProviderClient

log = logging.getLogger(__name__)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def expected_issuer(
    provider: ProviderClient, spec: OAuth2Spec, values: Mapping[str, str]
) -> tuple[str | None, bool]:
    """The issuer the callback's ``iss`` must equal (None: nothing known to compare it
    with), and whether the callback must carry one (RFC 9207 section 2.4).

    A declared ``issuer`` is the one: ``iss`` is required unless the app says its provider
    does not always send it (``iss_required: false``) and the issuer's metadata does not
    advertise ``authorization_response_iss_parameter_supported``. Otherwise the metadata
    of the server at the authorization URL's origin decides (RFC 8414), if it publishes
    any; an ``iss`` is never compared with a guessed origin.
    """
    if spec.issuer:
        if spec.iss_required:
            return spec.issuer, True
        metadata = provider.server_metadata(spec.issuer)
        return spec.issuer, metadata is not None and metadata.iss_parameter_supported
    origin = _origin(render(spec.authorization_url or "", values))
    metadata = provider.server_metadata(origin)
    if metadata is not None:
        return metadata.issuer, metadata.iss_parameter_supported
    return None, False


def check_issuer(
    provider: ProviderClient,
    entry: App,
    spec: OAuth2Spec,
    values: Mapping[str, str],
    iss: str | None,
) -> None:
    """Refuse a callback that names another authorization server, or none where one is
    required (``IssuerMismatch``); the comparison is exact: no slash or case folding."""
    expected, required = expected_issuer(provider, spec, values)
    if iss is None and required:
        raise IssuerMismatch(
            f"the sign-in came back without naming its authorization server (iss), which "
            f"{entry.name} ({expected}) always does; nothing was stored"
        )
    if iss is None:
        return
    if expected is None:
        log.info("%s named its authorization server; no issuer is known to compare", entry.key)
    elif iss != expected:
        raise IssuerMismatch(
            f"the sign-in came back from another authorization server than {entry.name}'s "
            f"({expected}); nothing was stored"
        )
