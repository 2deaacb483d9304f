"""Validate submitted credential and config fields against an app's schema; mask secrets.

Validation is done by a pydantic model built once per schema, so types, patterns, lengths and
unknown fields are checked by pydantic and reported per field, without echoing the value.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from gatekey.catalog.schema import FieldSpec, FieldsSchema
from gatekey.errors import InvalidFields, PayloadTooLarge

MAX_VALUE_BYTES = 64 * 1024
MASK = "••••"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_URI = r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s]+$"


def _annotation(spec: FieldSpec) -> Any:
    if spec.type == "integer":
        return int
    if spec.type == "boolean":
        return bool
    if spec.enum:
        return Literal[tuple(spec.enum)]
    return str


_MODELS: dict[int, tuple[FieldsSchema, type[BaseModel]]] = {}


def _model(schema: FieldsSchema) -> type[BaseModel]:
    """Return the validation model of a schema, built once per schema object."""
    cached = _MODELS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    model = _build_model(schema)
    _MODELS[id(schema)] = (schema, model)
    return model


def _build_model(schema: FieldsSchema) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for name, spec in schema.properties.items():
        constraints: dict[str, Any] = {}
        if spec.type == "string" and not spec.enum:
            pattern = spec.pattern
            if spec.format == "email":
                pattern = pattern or _EMAIL
            elif spec.format == "uri":
                pattern = pattern or _URI
            constraints = {
                "pattern": pattern,
                "min_length": 1 if spec.min_length is None else spec.min_length,
                "max_length": spec.max_length,
            }
        required = name in schema.required
        default = ... if required else None
        definitions[name] = (
            _annotation(spec) if required else _annotation(spec) | None,
            Field(default, **constraints),
        )
    return create_model(
        "Fields",
        __config__=ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False),
        **definitions,
    )


def validate(schema: FieldsSchema, values: Any, *, what: str = "fields") -> dict[str, Any]:
    """Return the values cleaned and typed; raise ``InvalidFields`` listing every problem."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InvalidFields(
            f"{what} must be an object", errors=[{"field": what, "message": "must be an object"}]
        )
    for name, value in values.items():
        if isinstance(value, str) and len(value.encode()) > MAX_VALUE_BYTES:
            raise PayloadTooLarge(
                f"{what}.{name} is larger than {MAX_VALUE_BYTES // 1024} KiB", field=name
            )
    try:
        model = _model(schema).model_validate(values)
    except ValidationError as exc:
        errors = [_describe(schema, what, err) for err in exc.errors(include_input=False)]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidFields(f"invalid {what}: {summary}", errors=errors) from None
    cleaned = model.model_dump(exclude_none=True)
    for name, spec in schema.properties.items():
        if name not in cleaned and spec.default is not None:
            cleaned[name] = spec.default
    return cleaned


def _describe(schema: FieldsSchema, what: str, err: Any) -> dict[str, str]:
    name = str(err["loc"][0]) if err["loc"] else what
    kind = err["type"]
    spec = schema.properties.get(name)
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a field of this app"
    elif kind == "string_pattern_mismatch" and spec is not None:
        message = f"does not look like a {spec.title}"
        if spec.format:
            message = f"must be a valid {spec.format}"
    elif kind == "string_too_short":
        message = "must not be empty"
    else:
        message = str(err["msg"]).lower()
    return {"field": f"{what}.{name}", "message": message}


def split(schema: FieldsSchema, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (public view, secret payload): public shows plain fields and masked secrets."""
    public: dict[str, Any] = {}
    for name, value in values.items():
        spec = schema.properties.get(name)
        public[name] = mask(str(value)) if spec is not None and spec.secret else value
    return public, dict(values)


def mask(value: str) -> str:
    """Return a hint that identifies a secret without revealing it (``••••abcd``)."""
    if len(value) < 16 or re.fullmatch(r"\W*", value[-4:]):
        return MASK
    return MASK + value[-4:]
