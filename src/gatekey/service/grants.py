"""What a finished authorization session stores: the grant the provider's answer brought."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
