"""Turn stored credentials into what a request needs: headers, query parameters, basic auth.

Pure: the catalog rules and the values in, a description out. Rules that refer to an optional
field the connection left empty are skipped (OpenAI's organization header). Derived values come
from RE2 (linear time, ``gatekey.domain.patterns``); a header whose filled-in name or value could
not be sent (CR, LF, control or non-ASCII characters) is refused naming the field it came from.
Header rules marked ``overridable`` (a version header such as ``Notion-Version``) are named in
``AppliedAuth.overridable``; ``merged_headers`` lets a caller's own value replace only those.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gatekey.catalog.schema import (
    NEVER_OVERRIDDEN,
    App,
    ApplyRule,
    AuthMethod,
    BasicRule,
    BearerRule,
    HeaderRule,
    QueryRule,
)
from gatekey.domain import headers as header_rules
from gatekey.domain.bodies import dig
from gatekey.domain.patterns import MAX_TEXT_BYTES, TextTooLong, compile_pattern
from gatekey.domain.templates import can_render, placeholders, render
from gatekey.errors import InvalidFields


@dataclass(frozen=True)
class AppliedAuth:
    """How to authenticate a request to the app; holds secrets, so ``repr`` hides them."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = None
    overridable: frozenset[str] = frozenset()
    """The names of ``headers`` a caller's own header of the same name replaces."""

    def __repr__(self) -> str:
        return (
            f"AppliedAuth(host={urlsplit(self.base_url).netloc!r}, "
            f"headers={sorted(self.headers)!r}, "
            f"query={sorted(self.query)!r}, basic={self.basic is not None})"
        )

    def request_headers(self) -> dict[str, str]:
        """Return the headers with basic auth folded into ``Authorization``."""
        headers = dict(self.headers)
        if self.basic is not None:
            token = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return headers


def merged_headers(
    caller: Mapping[str, str], applied: Mapping[str, str], overridable: Iterable[str] = ()
) -> dict[str, str]:
    """The headers to send: the caller's, and the applied ones over them (names compared
    case-insensitively, so a caller's ``x-api-key`` never travels beside the app's
    ``X-Api-Key``), but for the ``overridable`` ones, which yield to a caller's own value."""
    yielding = {name.lower() for name in overridable}
    given = {name.lower() for name in caller}
    kept = {k: v for k, v in applied.items() if not (k.lower() in yielding and k.lower() in given)}
    winning = {name.lower() for name in kept}
    return {**{k: v for k, v in caller.items() if k.lower() not in winning}, **kept}


def template_values(method: AuthMethod, values: Mapping[str, Any]) -> dict[str, str]:
    """Return fields and config as strings plus the app's derived values.

    A config setting the values lack takes its default: a connection stored before its app
    gained the setting (SendGrid's region, QuickBooks' environment, Microsoft's tenant) keeps
    working as it did, on the default host.
    """
    out = {k: str(v) for k, v in values.items() if v is not None and v != ""}
    out.update(unpacked(method, values))
    for name, spec in method.config.properties.items():
        if name not in out and spec.default is not None and spec.default != "":
            out[name] = str(spec.default)
    for name, derivation in method.derive.items():
        field = field_of(method, derivation.source)
        try:
            value = compile_pattern(derivation.pattern).find(
                out.get(derivation.source, ""), "value"
            )
        except TextTooLong:
            raise InvalidFields(
                f"{derivation.source} is too long to read the {name} from",
                errors=[{"field": field, "message": f"is longer than {MAX_TEXT_BYTES} bytes"}],
            ) from None
        if value is None:
            raise InvalidFields(
                f"{derivation.source} does not contain the expected {name}",
                errors=[{"field": field, "message": f"no {name} in it"}],
            )
        out[name] = value
    return out


def unpacked(method: AuthMethod, values: Mapping[str, Any]) -> dict[str, str]:
    """The values a JSON key file holds by the method's ``json_values`` (a service account's
    ``client_email`` and ``private_key``); ``domain.fields`` checked each is there when the
    file was given."""
    out: dict[str, str] = {}
    files: dict[str, Any] = {}
    for name, (source, path) in method.fields.unpacked.items():
        if source not in files:
            files[source] = _json_of(values.get(source))
        value = dig(files[source], path) if files[source] is not None else None
        if isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
            out[name] = str(value)
    return out


def _json_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def field_of(method: AuthMethod, name: str) -> str:
    """Name a value where the person entered it: ``fields.x`` or ``config.x`` (a value
    derived from a field, or unpacked from a JSON key file, names that field)."""
    for derived, derivation in method.derive.items():
        if derived == name:
            return field_of(method, derivation.source)
    unpacked_from = method.fields.unpacked.get(name)
    if unpacked_from is not None:
        return field_of(method, unpacked_from[0])
    if name in method.config.properties:
        return f"config.{name}"
    if name in method.fields.properties:
        return f"fields.{name}"
    return name


def _header(method: AuthMethod, template: str, values: Mapping[str, str], *, name: bool) -> str:
    """Fill a header template; refuse a value that cannot travel in a header, naming its field."""
    fits = header_rules.is_name if name else header_rules.is_value
    text = render(template, values)
    if fits(text):
        return text
    used = placeholders(template)
    culprits = {p for p in used if not fits(values[p])} or used
    fields = sorted({field_of(method, p) for p in culprits})
    what = "a header name" if name else "a header value"
    raise InvalidFields(
        f"{', '.join(fields)} cannot be sent in {what} (line breaks, control or non-ASCII "
        "characters, or for a name anything but letters, digits and !#$%&'*+-.^_`|~)",
        errors=[{"field": f, "message": f"cannot be sent in {what}"} for f in fields],
    )


def base_url(app: App, method: AuthMethod, values: Mapping[str, str]) -> str:
    return render(method.base_url or app.base_url, values).rstrip("/")


_TOKEN_BEARER = BearerRule(type="bearer", value="{access_token}")


def rules(method: AuthMethod) -> list[ApplyRule]:
    """Return the method's rules; an OAuth2 method that names none sends its token as bearer."""
    uses_token = any("{access_token}" in str(r.model_dump()) for r in method.apply)
    if method.oauth2 is not None and not uses_token:
        return [_TOKEN_BEARER, *method.apply]
    return list(method.apply)


def apply(app: App, method: AuthMethod, values: Mapping[str, Any]) -> AppliedAuth:
    """Return the request description for these credentials."""
    filled = template_values(method, values)
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    basic: tuple[str, str] | None = None
    overridable: set[str] = set()
    for rule in rules(method):
        if isinstance(rule, BearerRule):
            if can_render(rule.value, filled):
                headers["Authorization"] = "Bearer " + _header(
                    method, rule.value, filled, name=False
                )
        elif isinstance(rule, HeaderRule):
            if can_render(rule.value, filled) and can_render(rule.name, filled):
                name = _header(method, rule.name, filled, name=True)
                headers[name] = _header(method, rule.value, filled, name=False)
                if rule.overridable and name.lower() not in NEVER_OVERRIDDEN:  # a templated name
                    overridable.add(name)
        elif isinstance(rule, QueryRule):
            if can_render(rule.value, filled):
                query[rule.name] = render(rule.value, filled)
        elif isinstance(rule, BasicRule) and can_render(rule.username + rule.password, filled):
            basic = (render(rule.username, filled), render(rule.password, filled))
    return AppliedAuth(
        base_url=base_url(app, method, filled),
        headers=headers,
        query=query,
        basic=basic,
        overridable=frozenset(overridable),
    )
