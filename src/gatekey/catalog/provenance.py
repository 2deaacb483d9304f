"""Where each fact of a catalog entry comes from, and when it was last checked.

A catalog entry is only as good as its facts, and providers change (Zendesk retired API
tokens, HubSpot moved its token endpoint, Trello gained OAuth 2.0). Each ``Source`` names one
page of the provider's own documentation, the day someone read it, and the facts it backs, by
the names ``fact_names`` gives the entry's facts: ``base_url``, and per auth method
``<kind>.<fact>`` (``oauth2.token_url``, ``api_key.apply``, ``oauth2.scopes``).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator


class Source(BaseModel):
    """One page of documentation behind some of an entry's facts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpUrl
    checked: date = Field(description="the day the page was read against the entry")
    facts: list[str] = Field(min_length=1, description="the facts it backs (`oauth2.token_url`)")
    note: str | None = Field(default=None, description="what was found, when worth saying")

    @field_validator("url")
    @classmethod
    def _https(cls, url: HttpUrl) -> HttpUrl:
        if url.scheme != "https":
            raise ValueError("a source is read over https")
        return url


#: What a method's facts are called in a source's ``facts``: ``<kind>.<name>``.
METHOD_FACTS = frozenset(
    {
        "apply",
        "base_url",
        "config",
        "deprecated",
        "derive",
        "fields",
        "idle_expiry_days",
        "responses",
        "setup",
        "test_request",
    }
)


def fact_names(kinds: dict[str, set[str]]) -> set[str]:
    """Every fact name a source of an app with these auth kinds may back: ``kinds`` maps each
    kind to the names of its recipe sections' fields (``oauth2``'s, ``aws``'s...)."""
    names = {"base_url", "docs_url", "description"}
    for kind, section_fields in kinds.items():
        names |= {f"{kind}.{fact}" for fact in METHOD_FACTS | section_fields}
    return names
