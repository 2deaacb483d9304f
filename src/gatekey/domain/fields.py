"""Validate submitted credential and config fields against an app's schema; mask secrets.

Validation is done by a pydantic model built once per schema, so types, patterns, lengths and
unknown fields are checked by pydantic and reported per field, without echoing the value.
Patterns (the app's, and the built-in ones for ``format``) run on RE2 in linear time
(``gatekey.domain.patterns``); a value checked against one may be at most ``MAX_TEXT_BYTES``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
)
from pydantic_core import PydanticCustomError

from gatekey.catalog.schema import FieldSpec, FieldsSchema
from gatekey.domain import keys
from gatekey.domain.bodies import dig
from gatekey.domain.patterns import MAX_TEXT_BYTES, Pattern, TextTooLong, compile_pattern
from gatekey.errors import InvalidFields, PayloadTooLarge

MAX_VALUE_BYTES = 64 * 1024
MASK = "••••"
# RE2's \s is ASCII: \p{Z} keeps the other Unicode spaces out, as the engine these ran on
# before did, and \p{Cc} every control character, which that engine let through.
_EMAIL = r"^[^@\s\p{Z}\p{Cc}]+@[^@\s\p{Z}\p{Cc}]+\.[^@\s\p{Z}\p{Cc}]+$"
_URI = r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\p{Z}\p{Cc}]+$"


def _annotation(spec: FieldSpec) -> Any:
    if spec.format in _PARSED:
        return Annotated[str, StringConstraints(min_length=1), AfterValidator(_parsed(spec))]
    if spec.type == "integer":
        return int
    if spec.type == "boolean":
        return bool
    if spec.enum:
        return Literal[tuple(spec.enum)]
    if spec.choices and spec.pattern is None:  # closed: only the values offered
        return Literal[tuple(offered(spec))]
    pattern = spec.pattern
    if spec.format == "email":
        pattern = pattern or _EMAIL
    elif spec.format == "uri":
        pattern = pattern or _URI
    lengths = StringConstraints(
        min_length=1 if spec.min_length is None else spec.min_length,
        max_length=spec.max_length,
    )
    if pattern is None:
        return Annotated[str, lengths]
    return Annotated[str, lengths, AfterValidator(_matching(compile_pattern(pattern)))]


_PARSED = frozenset({"json", "private_key", "certificate"})


def _parsed(spec: FieldSpec) -> Callable[[str], str]:
    """A validator for a field holding a file: a JSON object with every ``json_values`` path
    (a service-account key), a PEM private key, a PEM certificate; the message names what is
    wrong, never the content."""

    def check(value: str) -> str:
        try:
            if spec.format == "private_key":
                keys.private_key(value)
            elif spec.format == "certificate":
                keys.certificate(value)
            else:
                _json_file(spec, value)
        except keys.KeyProblem as exc:
            raise PydanticCustomError("file_unreadable", str(exc)) from None
        return value

    return check


def _json_file(spec: FieldSpec, value: str) -> None:
    try:
        body = json.loads(value)
    except ValueError:
        raise keys.KeyProblem("is not JSON: paste or upload the whole file") from None
    if not isinstance(body, dict):
        raise keys.KeyProblem("is not a JSON object")
    missing = [p for p in spec.json_values.values() if dig(body, p) in (None, "")]
    if missing:
        raise keys.KeyProblem(f"lacks {', '.join(missing)}: is it the right file?")


def offered(spec: FieldSpec) -> list[str]:
    """The values a field offers to pick from: its ``choices`` or its ``enum``."""
    if spec.choices:
        return [c.value for c in spec.choices]
    return list(spec.enum or [])


def _matching(pattern: Pattern) -> Callable[[str], str]:
    """Return a validator that passes values the pattern matches (anywhere, as JSON-schema)."""

    def check(value: str) -> str:
        try:
            matched = pattern.matches(value)
        except TextTooLong:
            raise PydanticCustomError(
                "pattern_text_too_long",
                "is longer than {limit} bytes, too long to check against its pattern",
                {"limit": MAX_TEXT_BYTES},
            ) from None
        if not matched:
            raise PydanticCustomError("string_pattern_mismatch", "does not match its pattern")
        return value

    return check


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
        required = name in schema.required
        annotation = _annotation(spec)
        definitions[name] = (
            annotation if required else annotation | None,
            Field(... if required else None),
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
        if not isinstance(value, str):
            continue
        try:
            size = len(value.encode())
        except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 can carry
            field = f"{what}.{name}"
            raise InvalidFields(
                f"invalid {what}: {field}: is not valid Unicode text",
                errors=[{"field": field, "message": "is not valid Unicode text"}],
            ) from None
        if size > MAX_VALUE_BYTES:
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


def _article(noun: str) -> str:
    """``an`` before a vowel sound ("an API key", "an Email"), else ``a`` ("a URL", "a Key")."""
    word = noun.lower()
    vowel = word[:1] in ("a", "e", "i", "o") or word.startswith(("un", "up", "ut"))
    return "an" if vowel else "a"


def _describe(schema: FieldsSchema, what: str, err: Any) -> dict[str, str]:
    name = str(err["loc"][0]) if err["loc"] else what
    kind = err["type"]
    spec = schema.properties.get(name)
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a field of this app"
    elif kind == "literal_error" and spec is not None:
        message = f"must be one of {', '.join(offered(spec))}"
    elif kind == "string_pattern_mismatch" and spec is not None:
        message = _mismatch(spec)
    elif kind == "string_too_short":
        message = "must not be empty"
    elif kind == "file_unreadable":
        message = str(err["msg"])
    else:
        message = str(err["msg"]).lower()
    return {"field": f"{what}.{name}", "message": message}


def _mismatch(spec: FieldSpec) -> str:
    """What a value its pattern refuses should have been; with open choices, those first."""
    if spec.format:
        return f"must be a valid {spec.format}"
    looks = f"look like {_article(spec.title)} {spec.title}"
    if spec.choices:
        return f"must be one of {', '.join(offered(spec))}, or {looks}"
    return f"does not {looks}"


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
