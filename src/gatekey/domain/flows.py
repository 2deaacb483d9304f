"""Flow definitions: steps that act on apps through connections. Pure validation, no I/O.

A step names an app and a connection (an id, or ``default`` for the project's default
connection of that app) and is either ``http`` (a request relative to the app's base URL) or
``python`` (a step the operator registered, ``(input, auths, steps) -> result``, named by its
registered name or its registered ``module:function``; which names exist is the service's
business, so this module only checks the shape). Strings in an
http step may hold ``{{ input.<name> }}`` and ``{{ steps.<id>.output.<path> }}``; a template
may only name steps that come earlier.

Templates are found with RE2 (``google-re2``), in time linear in the text and with the GIL
released: on ``re``, ``"{{"`` and 2,000 spaces took 5.8 s holding the GIL (the pattern is cubic
there) and a 10,000-character header about twelve minutes. The pattern is the one ``re`` ran,
with Python's whitespace class spelled out, so templates are found exactly where they were.

Header names are RFC 9110 tokens and values visible ASCII (``gatekey.domain.headers``), checked
where the flow is defined and again once run data has filled the templates, before the request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gatekey.domain import headers as header_rules
from gatekey.errors import InvalidFields, TemplateError

STEP_ID = r"^[a-z][a-z0-9_]{0,39}$"
# What ``\s`` matched on ``re`` (``str.isspace``); RE2's ``\s`` is ASCII-only.
_SPACE = r"[\t-\r\x1c-\x1f\x85\p{Z}]"
_TEMPLATE = re2.compile(r"\{\{" + _SPACE + r"*(.*?)" + _SPACE + r"*\}\}")
_REFERENCE = re.compile(
    r"^(?:input(?:\.[A-Za-z0-9_]+)*|steps\.([a-z][a-z0-9_]*)\.output(?:\.[A-Za-z0-9_]+)*)$"
)
MAX_STEPS = 50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpAction(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(min_length=1, max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    body: Any = None

    @model_validator(mode="after")
    def _relative(self) -> HttpAction:
        if "://" in self.path or self.path.startswith("//"):
            raise ValueError("path must be relative to the app's base URL")
        if any(h.lower() in ("authorization", "cookie") for h in self.headers):
            raise ValueError("the connection supplies authentication; do not set it here")
        return self


class PythonAction(_Strict):
    callable: str = Field(
        pattern=r"^[A-Za-z_][\w.:-]{0,199}$",
        description="a registered step: its name, or the module:function it is registered as",
    )


class Step(_Strict):
    id: str = Field(pattern=STEP_ID)
    app: str = Field(min_length=1, max_length=64)
    connection: str = Field(default="default", max_length=64)
    scopes: list[str] = Field(default_factory=list, description="scopes the step needs")
    type: Literal["http", "python"]
    http: HttpAction | None = None
    python: PythonAction | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        if self.type == "http" and (self.http is None or self.python is not None):
            raise ValueError("an http step needs an 'http' section and nothing else")
        if self.type == "python" and (self.python is None or self.http is not None):
            raise ValueError("a python step needs a 'python' section and nothing else")
        return self


class FlowDefinition(_Strict):
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)


def _templates(text: str) -> list[Any]:
    """Return the ``{{ ... }}`` matches in ``text``, in order (group 1 is the expression)."""
    try:
        return list(_TEMPLATE.finditer(text))
    except UnicodeEncodeError:
        raise TemplateError(
            "a text in the step is not valid Unicode (it holds a lone surrogate)",
            errors=[{"field": "(text)", "message": "not valid Unicode"}],
        ) from None


def _shown(expression: str) -> str:
    return expression if len(expression) <= 80 else expression[:77] + "..."


def _printable(part: str) -> str:
    return part if part.isprintable() else repr(part)[1:-1]


def _header_problems(where: str, fields: Mapping[str, str]) -> list[dict[str, str]]:
    """Check a step's literal header names (tokens) and value templates (visible ASCII)."""
    problems = []
    for name, value in fields.items():
        field = f"{where}.http.headers.{_printable(name)}"
        if "{{" in name:
            problems.append({"field": field, "message": "a header name may not hold a template"})
            continue
        try:
            header_rules.check_name(name)
        except ValueError as exc:
            problems.append({"field": field, "message": str(exc)})
            continue
        try:
            header_rules.check_value(value)
        except ValueError as exc:
            problems.append({"field": field, "message": str(exc)})
    return problems


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def parse(definition: Any) -> FlowDefinition:
    """Validate a flow definition; errors name the step (``steps.<n>.<field>``)."""
    try:
        flow = FlowDefinition.model_validate(definition)
    except ValidationError as exc:
        raise _invalid(
            [
                {
                    "field": ".".join(_printable(str(p)) for p in e["loc"]) or "(root)",
                    "message": e["msg"],
                }
                for e in exc.errors()
            ]
        ) from None
    problems: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, step in enumerate(flow.steps):
        where = f"steps.{index}"
        if step.id in seen:
            problems.append(
                {"field": f"{where}.id", "message": f"step id {step.id!r} is used twice"}
            )
        if step.http is not None:
            problems.extend(_header_problems(where, step.http.headers))
            for text in _strings(step.http.model_dump()):
                try:
                    found = _templates(text)
                except TemplateError as exc:
                    problems.append({"field": f"{where}.http", "message": exc.message})
                    continue
                for expression in (m.group(1) for m in found):
                    match = _REFERENCE.match(expression)
                    if match is None:
                        problems.append(
                            {
                                "field": f"{where}.http",
                                "message": f"template {{{{ {_shown(expression)} }}}} is not "
                                "input.<name> or steps.<id>.output.<path>",
                            }
                        )
                    elif match.group(1) and match.group(1) not in seen:
                        problems.append(
                            {
                                "field": f"{where}.http",
                                "message": f"template refers to step {match.group(1)!r}, "
                                "which does not come before this one",
                            }
                        )
        seen.add(step.id)
    if problems:
        raise _invalid(problems)
    return flow


def _invalid(problems: list[dict[str, str]]) -> InvalidFields:
    """The refusal; its message names the first problem (a run of a stored flow shows only it)."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return InvalidFields(
        f"the flow definition is not valid: {first['field']}: {first['message']}{more}",
        errors=problems,
    )


def _lookup(expression: str, context: Mapping[str, Any]) -> Any:
    node: Any = context
    for part in expression.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise TemplateError(
                f"{{{{ {_shown(expression)} }}}} has no value",
                errors=[{"field": expression, "message": "no such value"}],
            )
    return node


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Fill ``{{ ... }}`` templates: a string that is one template keeps the value's type."""
    if isinstance(value, str):
        found = _templates(value)
        if not found:
            return value
        if len(found) == 1 and found[0].group(0) == value.strip():
            return _lookup(found[0].group(1), context)
        pieces, end = [], 0
        for match in found:
            pieces += [value[end : match.start()], str(_lookup(match.group(1), context))]
            end = match.end()
        return "".join([*pieces, value[end:]])
    if isinstance(value, dict):
        return {render(k, context): render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def render_headers(fields: Mapping[str, str], context: Mapping[str, Any]) -> dict[str, str]:
    """Fill a step's header templates; refuse a value the run data made unsendable.

    A value filled in from a run's input or an earlier step's output may hold a CR or LF; it is
    refused here, before any request, and the error names the header, never the value.
    """
    out: dict[str, str] = {}
    for name, template in fields.items():
        value = str(render(template, context))
        try:
            header_rules.check_value(value)
        except ValueError as exc:
            raise TemplateError(
                f"header {name!r}: the value filled in from the run's data cannot be sent: {exc}",
                errors=[{"field": f"http.headers.{_printable(name)}", "message": str(exc)}],
            ) from None
        out[name] = value
    return out
