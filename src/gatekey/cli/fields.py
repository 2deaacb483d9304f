"""An app's credential fields and config as the CLI shows and asks for them: which ``--field``
(``-f``) and ``--config`` (``-c``) to pass (``gatekey apps show``), and the prompts for the
required ones left out (``gatekey connections create``), config and plain fields before any
secret."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gatekey.catalog.schema import App, AuthKind, AuthMethod, FieldSpec, FieldsSchema
from gatekey.domain.fields import offered
from gatekey.service.preparation import Preparation, prepare

CONSENT = (AuthKind.OAUTH2, AuthKind.GITHUB_APP)
"""Kinds connected through a consent or install screen (``connections connect``), not with
fields."""


def ask_missing(schema: FieldsSchema, given: dict[str, Any], *, secrets: bool) -> dict[str, Any]:
    """``given`` with the required values it lacks asked for on a terminal, and those of fields
    with choices (offered, with their default): the plain ones, or (``secrets``) the secret
    ones, hidden. Without a terminal nothing is asked: the service then names every missing
    field, and fills in defaults."""
    values = dict(given)
    if not sys.stdin.isatty():
        return values
    offering = [n for n, spec in schema.properties.items() if spec.choices]
    for name in dict.fromkeys([*schema.required, *offering]):  # the required ones first
        spec = schema.properties[name]
        if name in values or spec.secret is not secrets:
            continue
        if spec.choices:
            values[name] = _pick(spec)
        else:
            values[name] = typer.prompt(_prompt(spec), hide_input=spec.secret, err=True)
    return values


def _prompt(spec: FieldSpec) -> str:
    hint = spec.description or spec.placeholder
    return f"{spec.title} ({hint})" if hint else spec.title


def _pick(spec: FieldSpec) -> str:
    """Ask for a field with choices, offering them and their default: closed choices take
    only those values; open ones (a pattern admits others) take any, which the service checks."""
    values = offered(spec)
    closed = spec.pattern is None
    text = f"{spec.title} ({', '.join(values)}{'' if closed else ', or another'})"
    default = spec.default if isinstance(spec.default, str) else None
    while True:
        picked = str(typer.prompt(text, default=default, err=True))
        if not closed or picked in values:
            return picked
        typer.echo(f"{picked} is not one of {', '.join(values)}", err=True)


def describe(app: App, out: Console, callback_url: str | None = None) -> None:
    """Print what connecting ``app`` takes, method by method, as the commands that do it, and
    what to prepare first (with ``callback_url``, the redirect URI to register)."""
    out.print(f"{app.name} ({app.key})", markup=False, highlight=False)
    if app.description:
        out.print(app.description, markup=False, highlight=False)
    out.print(f"Docs: {app.docs_url}", markup=False, highlight=False, soft_wrap=True)
    several = len(app.auth) > 1
    for method in app.auth:
        out.print()
        label = f"{method.label} " if method.label else ""
        out.print(f"{label}[{method.kind.value}]", markup=False, highlight=False)
        out.print(
            f"  {_command(app, method, several)}", markup=False, highlight=False, soft_wrap=True
        )
        _options(out, "--field/-f", method.fields)
        _options(out, "--config/-c", method.config)
        _prepare(out, prepare(method, callback_url or ""))
        if method.kind in CONSENT:
            out.print("  first register the project's OAuth client for it:", markup=False)
            out.print(
                f"  gatekey oauth-clients add --app {app.key} --client-id ID",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def _prepare(out: Console, ready: Preparation) -> None:
    """Print what to prepare: the deprecation first, then the setup page, steps and scopes."""
    lines = []
    if ready.deprecated:
        gone = ready.deprecated
        lines.append(f"DEPRECATED since {gone.since}: {gone.note}")
        if gone.sunset:
            lines.append(f"  stops working on {gone.sunset}")
        if gone.use_instead:
            lines.append(f"  use {gone.use_instead} instead")
    if ready.setup_url:
        lines.append(f"prepare at {ready.setup_url}:")
        lines += [f"  {number}. {step}" for number, step in enumerate(ready.steps, 1)]
    if ready.redirect_uri:
        lines.append(f"redirect URI to register: {ready.redirect_uri}")
    if ready.scopes:
        lines.append("scopes: " + " ".join(ready.scopes))
    if ready.idle_expiry_days:
        lines.append(f"unused credentials stop working after {ready.idle_expiry_days} days")
    for line in lines:
        out.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def _command(app: App, method: AuthMethod, several: bool) -> str:
    """The command that connects with ``method``, its required options filled with names."""
    if method.kind in CONSENT:
        parts = [f"gatekey connections connect --app {app.key}"]
    else:
        parts = [f"gatekey connections create --app {app.key} --name NAME"]
        if several:
            parts.append(f"--auth-kind {method.kind.value}")
        parts += [
            f"-f {name}=VALUE"
            for name in method.fields.required
            if not method.fields.properties[name].secret
        ]
    parts += [f"-c {name}=VALUE" for name in method.config.required]
    return " ".join(parts)


def _options(out: Console, option: str, schema: FieldsSchema) -> None:
    if not schema.properties:
        return
    out.print(f"  {option}:", markup=False, highlight=False)
    shown = Table.grid(padding=(0, 2))
    shown.add_column(no_wrap=True)
    shown.add_column()
    for name, spec in schema.properties.items():
        notes = ["required" if name in schema.required else "optional"]
        if spec.secret:
            notes.append("secret: asked for, hidden, if left out")
        if spec.enum:
            notes.append("one of " + ", ".join(spec.enum))
        if spec.choices:
            picks = ", ".join(f"{c.value} ({c.title})" for c in spec.choices)
            notes.append(f"one of {picks}" + (" or any value of its form" if spec.pattern else ""))
        if spec.default is not None:
            notes.append(f"default {spec.default}")
        about = f"{spec.title} ({'; '.join(notes)})"
        if spec.description:
            about += f": {spec.description}"
        shown.add_row(Text(name), Text(about))
    out.print(Padding(shown, (0, 0, 0, 4)))
