"""How long an app's credentials live, and which methods the provider is retiring.

Zendesk stopped letting accounts create API tokens on 2026-10-27, deactivates tokens left
unused for 30 days, and switches the rest off on 2027-04-30; OAuth is what it offers instead.
An entry says so with ``deprecated`` (shown wherever the method is offered) and
``idle_expiry_days`` (Gatekey uses such a credential before the provider's limit, and warns
when it cannot), so nobody learns it from a broken flow.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class Deprecation(BaseModel):
    """A method the provider is retiring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    since: date = Field(description="when the provider announced it or stopped new credentials")
    sunset: date | None = Field(default=None, description="when the credentials stop working")
    note: str = Field(min_length=1, description="what changes, in the provider's terms")
    use_instead: str | None = Field(
        default=None, description="the app's auth kind to move to (Zendesk: oauth2)"
    )
    source: HttpUrl

    def retired(self, today: date) -> bool:
        """Whether the credentials have stopped working by ``today`` (the sunset has come)."""
        return self.sunset is not None and today >= self.sunset


KEEP_ALIVE_SLACK = timedelta(days=3)
"""What a keep-alive leaves before the provider's limit, when the limit allows: sweeps that
cannot reach the provider get days to retry in."""


def keep_alive_after(idle_expiry_days: int) -> timedelta:
    """How long a credential may sit unused before Gatekey uses it to keep it alive.

    Half the provider's limit (Zendesk's 30 days: 15), and no later than the limit less
    ``KEEP_ALIVE_SLACK``; never under a quarter of it (a 2-day limit: 12 hours). Connections
    unused that long are also the ones whose view warns.
    """
    limit = timedelta(days=idle_expiry_days)
    return max(min(limit / 2, limit - KEEP_ALIVE_SLACK), limit / 4)
