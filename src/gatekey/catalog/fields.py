"""The fields of an auth method: what a person enters (credentials, some of them secret) and
its non-secret settings (config), as a small JSON-schema. Validated by ``domain.fields``."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gatekey.catalog.text import BodyPath
from gatekey.domain.patterns import compile_pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    """One offered value of a config field, with what people call it."""

    value: str = Field(min_length=1)
    title: str = Field(min_length=1)


class FieldSpec(_Strict):
    """One credential or config field, a subset of JSON-schema plus ``secret``."""

    type: Literal["string", "integer", "boolean"] = "string"
    title: str
    description: str | None = None
    secret: bool = False
    format: Literal["uri", "email", "json", "private_key", "certificate"] | None = Field(
        default=None,
        description="`json`: a JSON object (a service-account key file); `private_key`: a PEM "
        "private key; `certificate`: a PEM X.509 certificate; each parsed when given",
    )
    json_values: dict[str, BodyPath] = Field(
        default_factory=dict,
        description="`format: json`: values read from the file by path, usable in templates "
        "as if they were fields (`client_email: client_email`); each must be in the file",
    )
    multiline: bool = Field(default=False, description="a text area (keys, PEM files)")
    pattern: str | None = None
    enum: list[str] | None = None
    min_length: int | None = Field(default=None, alias="minLength", ge=0)
    max_length: int | None = Field(default=None, alias="maxLength", ge=1)
    default: str | int | bool | None = None
    placeholder: str | None = None
    choices: list[Choice] | None = Field(
        default=None,
        min_length=1,
        description="values offered as a choice (environments, regions, tenants): the only "
        "ones taken, unless a `pattern` admits others (a tenant id besides `common`)",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_runs_on_re2(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            compile_pattern(pattern)
        return pattern

    @model_validator(mode="after")
    def _choices_fit(self) -> FieldSpec:
        if self.json_values and self.format != "json":
            raise ValueError("json_values: only for a field of format json")
        if self.format in ("json", "private_key", "certificate") and self.type != "string":
            raise ValueError(f"format {self.format}: a string field")
        if self.choices is None:
            return self
        if self.enum is not None:
            raise ValueError("choices and enum: give one of them")
        if self.type != "string" or self.secret:
            raise ValueError("choices are for non-secret string fields")
        values = [c.value for c in self.choices]
        if len(values) != len(set(values)):
            raise ValueError("choices: each value once")
        if self.pattern is not None:
            rule = compile_pattern(self.pattern)
            wrong = [v for v in values if not rule.matches(v)]
            if wrong:
                raise ValueError(f"choices {wrong} do not match the pattern")
        if self.default is not None and self.pattern is None and self.default not in values:
            raise ValueError("default: not one of the choices")
        return self


class FieldsSchema(_Strict):
    """``{"type": "object", "properties": {...}, "required": [...]}``; extra fields are refused."""

    type: Literal["object"] = "object"
    properties: dict[str, FieldSpec] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _required_exist(self) -> FieldsSchema:
        unknown = set(self.required) - set(self.properties)
        if unknown:
            raise ValueError(f"required names unknown properties: {sorted(unknown)}")
        for name in self.properties:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"property name {name!r} must be snake_case")
        return self

    @property
    def secret_names(self) -> frozenset[str]:
        """Secret fields, and the values unpacked from a secret JSON file."""
        names = {n for n, f in self.properties.items() if f.secret}
        for spec in self.properties.values():
            if spec.secret:
                names |= set(spec.json_values)
        return frozenset(names)

    @property
    def unpacked(self) -> dict[str, tuple[str, str]]:
        """Value names read from JSON fields: name to (field, path)."""
        return {
            value: (name, path)
            for name, spec in self.properties.items()
            for value, path in spec.json_values.items()
        }
