"""How stored credentials are applied to a request: bearer, header, query and basic rules,
and values derived from a field by a regular expression. Filled in by ``domain.apply``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gatekey.catalog.text import HeaderNameTemplate, HeaderValueTemplate, PlainText
from gatekey.domain.patterns import compile_pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BearerRule(_Strict):
    """``Authorization: Bearer <value>``."""

    type: Literal["bearer"]
    value: HeaderValueTemplate


class HeaderRule(_Strict):
    """A named header; the prefix, if any, is part of the value template."""

    type: Literal["header"]
    name: HeaderNameTemplate
    value: HeaderValueTemplate
    overridable: bool = Field(
        default=False,
        description="a caller's own value wins (an API version header such as Notion-Version); "
        "never for a header built from a secret",
    )


class QueryRule(_Strict):
    type: Literal["query"]
    name: PlainText = Field(min_length=1)
    value: PlainText


class BasicRule(_Strict):
    """HTTP basic authentication (RFC 7617)."""

    type: Literal["basic"]
    username: str
    password: str


ApplyRule = Annotated[BearerRule | HeaderRule | QueryRule | BasicRule, Field(discriminator="type")]


class Derivation(_Strict):
    """A value computed from a field by a regular expression's ``value`` group.

    Mailchimp keys end in ``-us6``; the data centre picks the API host.
    """

    source: str
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _runs_on_re2_with_a_value_group(cls, pattern: str) -> str:
        if "value" not in compile_pattern(pattern).group_names:
            raise ValueError("derivation pattern needs a (?P<value>...) group")
        return pattern
