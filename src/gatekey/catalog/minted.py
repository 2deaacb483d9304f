"""How long a token Gatekey obtains unattended lasts, and when it is replaced: one shape for
every recipe that mints or exchanges a token (a signed JWT, an assertion grant, a GitHub App
installation token, AWS temporary credentials, a session token from a login).

The refresher (``oauth.refresh``) reads these through ``Lifecycle``; ``OAuth2Spec`` has the same
attributes, so a minted token is refreshed before expiry, once, across processes, exactly as an
OAuth2 token is.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from gatekey.catalog.text import PlainText


class Lifecycle(Protocol):
    """What the refresher and the resolver read of a method whose tokens expire."""

    @property
    def refresh_margin_seconds(self) -> int: ...
    @property
    def default_token_lifetime_seconds(self) -> int | None: ...
    @property
    def idle_refresh_days(self) -> int | None: ...
    @property
    def expired_token_status(self) -> list[int]: ...
    @property
    def scope_separator(self) -> str: ...
    @property
    def response_scope_separator(self) -> str | None: ...
    @property
    def token_config_paths(self) -> dict[str, str]: ...


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Minted(_Strict):
    """The lifecycle part of a recipe's section (``Lifecycle``)."""

    lifetime_seconds: int | None = Field(
        default=None,
        ge=30,
        le=366 * 86400,
        description="how long a minted token lasts when its answer says nothing (no `exp`, "
        "`expires_in` or `expires_at`)",
    )
    refresh_margin_seconds: int = Field(default=300, ge=0, le=3600)
    expired_token_status: list[int] = Field(
        default_factory=lambda: [401],
        description="statuses of the app's answers meaning the token expired: mint again, "
        "retry once",
    )
    account_label: PlainText | None = Field(
        default=None,
        description="a template naming the account from the connection's values "
        "(`{client_email} as {subject}`), used when no test request names it",
    )

    @property
    def default_token_lifetime_seconds(self) -> int | None:
        return self.lifetime_seconds

    @property
    def idle_refresh_days(self) -> int | None:
        return None

    @property
    def scope_separator(self) -> str:
        return " "

    @property
    def response_scope_separator(self) -> str | None:
        return None

    @property
    def token_config_paths(self) -> dict[str, str]:
        return {}
