"""What a finished authorization session stores: the grant the provider's answer brought,
and the account it names when the answer itself does not (``tested_label``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gatekey.catalog.schema import App, AuthMethod
from gatekey.domain.apply import apply, template_values
from gatekey.domain.signing import signing_of
from gatekey.errors import GatekeyError
from gatekey.metrics import Metrics
from gatekey.probe import Prober
from gatekey.signers import signature
from gatekey.signing import signing_from

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    """The sealed secret (the token set), the config, when the token expires, the scopes it
    holds, the account it names and when the token request left."""

    secret: dict[str, Any] = field(repr=False)
    config: dict[str, Any]
    expires_at: datetime | None
    scopes: list[str]
    label: str | None
    sent_at: datetime


def tested_label(
    metrics: Metrics,
    prober: Prober,
    entry: App,
    method: AuthMethod,
    values: Mapping[str, Any],
    hidden: list[str],
) -> str | None:
    """The account the app's test request finds with a new grant's ``values`` (its token and
    config), ``hidden`` masked, the request signed when the kind signs (OAuth 1.0a); None when
    it finds none or cannot be asked (a grant is not refused for want of a label)."""
    filled = template_values(method, values)
    signing = signing_of(method, values, filled, None)
    signer = signature(signing_from(signing)) if signing else None
    try:
        with metrics.provider_call(entry.key, "test"):
            return prober.check(entry, method, apply(entry, method, values), filled, hidden, signer)
    except GatekeyError as exc:
        log.info("could not learn the %s account: %s", entry.key, exc.code)
        return None
