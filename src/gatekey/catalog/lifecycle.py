"""How long an app's credentials live, and which methods the provider is retiring.

Zendesk stopped letting accounts create API tokens on 2026-10-27, deactivates tokens left
unused for 30 days, and switches the rest off on 2027-04-30; OAuth is what it offers instead.
An entry says so with ``deprecated`` (shown wherever the method is offered) and
``idle_expiry_days`` (Gatekey uses such a credential before the provider's limit, and warns
when it cannot), so nobody learns it from a broken flow.
"""

from __future__ import annotations

from datetime import date

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
