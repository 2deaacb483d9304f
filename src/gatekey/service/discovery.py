"""What an app's API says right after consent, kept as connection config
(``OAuth2Spec.discovery``): Xero's tenant id from ``GET /connections``, sent afterwards as
``xero-tenant-id``; Atlassian's cloud id from ``accessible-resources``, the ``/ex/jira/{cloud_id}``
prefix of the base URL.

Each discovery URL is rendered with the config known so far and asked with the new access
token (``Authorization: Bearer``) and its own headers, through the client every request to an
app's API goes through (``Prober.http``: the egress guard, no redirects). Each ``ConfigFrom``
path of the JSON answer becomes config. A value the config already holds (the person chose a
tenant) is kept only if the answer lists it, and then the account label is read from the same
entry of the list. An answer with nothing at a path fails the authorization with the entry's
``empty_message`` (``DiscoveryFailed``); so does a refusal. Nothing is stored meanwhile: the
callback stores the connection only once discovery is done.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from gatekey.catalog.oauth2 import Discovery, OAuth2Spec
from gatekey.domain.bodies import dig
from gatekey.domain.masking import Masker
from gatekey.domain.templates import render
from gatekey.egress import destination
from gatekey.errors import DiscoveryFailed
from gatekey.unreachable import overloaded, unreachable

log = logging.getLogger(__name__)
MAX_VALUE = 300


@dataclass(frozen=True)
class Learned:
    """The config values discovery found, and the account label it read (if any)."""

    config: dict[str, str]
    label: str | None


def discover(
    http: httpx2.Client,
    app_name: str,
    spec: OAuth2Spec,
    values: Mapping[str, str],
    access_token: str,
    secrets: Sequence[str],
) -> Learned:
    """Run every discovery request of ``spec`` in order; a later one may use what an earlier
    one found (``values`` are the config's, as template values)."""
    known = dict(values)
    config: dict[str, str] = {}
    label: str | None = None
    masked = Masker([access_token, *secrets])
    for step in spec.discovery:
        body = _ask(http, app_name, step, known, access_token)
        found, index = _read(app_name, step, body, known)
        config.update(found)
        known.update(found)
        label = label or _label(step, body, index, masked)
    return Learned(config, label)


def _ask(
    http: httpx2.Client,
    app_name: str,
    step: Discovery,
    values: Mapping[str, str],
    access_token: str,
) -> Any:
    try:
        url = render(step.url, values)
        headers = {name: render(value, values) for name, value in step.headers.items()}
    except KeyError as missing:
        raise DiscoveryFailed(
            f"{app_name}'s discovery request needs {missing} in the connection's config"
        ) from None
    headers = {"Accept": "application/json", **headers}
    headers["Authorization"] = f"Bearer {access_token}"
    target = destination(url)  # InvalidInput, never httpx2.InvalidURL
    try:
        response = http.get(target, headers=headers)
    except httpx2.HTTPError as exc:
        log.info("discovery request to %s failed: %s", app_name, type(exc).__name__)
        raise unreachable(exc, app=app_name, what=app_name) from None
    status = response.status_code
    busy = overloaded(
        response, who=app_name, app=app_name, context=" when asked what the grant reaches"
    )
    if busy is not None:
        raise busy
    if status >= 300:
        raise DiscoveryFailed(
            f"{app_name} refused to say what the grant reaches (HTTP {status}); nothing was stored",
            provider_status=status,
        )
    try:
        return response.json()
    except ValueError:
        raise DiscoveryFailed(
            f"{app_name} said what the grant reaches in a body that is not JSON; nothing was stored"
        ) from None


def _read(
    app_name: str, step: Discovery, body: Any, known: Mapping[str, str]
) -> tuple[dict[str, str], int | None]:
    """The config values of one answer, and the list entry they come from (the chosen one)."""
    index: int | None = None
    for item in step.config:
        chosen = known.get(item.name)
        if chosen is None:
            continue
        listed = [str(v) if _usable(v) else None for v in _across(body, item.path)]
        if chosen not in listed:
            raise DiscoveryFailed(
                f"{app_name} does not list the {item.name} chosen for this connection among "
                "those the sign-in granted; choose one of them, or grant access to it when "
                "signing in; nothing was stored",
                field=item.name,
            )
        index = listed.index(chosen) if _list_index(item.path) is not None else None
        break
    found: dict[str, str] = {}
    for item in step.config:
        value = dig(body, _at(item.path, index))
        if not _usable(value):
            raise DiscoveryFailed(f"{app_name}: {step.empty_message}; nothing was stored")
        found[item.name] = str(value)[:MAX_VALUE]
    return found, index


def _label(step: Discovery, body: Any, index: int | None, masked: Masker) -> str | None:
    for path in step.account_label:
        value = dig(body, _at(path, index))
        if _usable(value):
            return masked.text(str(value))[:MAX_VALUE]
    return None


def _usable(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _list_index(path: str) -> int | None:
    """Where in the path its first list index is (``0.tenantId``: 0), if it has one."""
    for position, part in enumerate(path.split(".")):
        if part.isdigit():
            return position
    return None


def _at(path: str, index: int | None) -> str:
    """The path with its first list index replaced by ``index`` (the chosen entry)."""
    position = _list_index(path)
    if index is None or position is None:
        return path
    parts = path.split(".")
    parts[position] = str(index)
    return ".".join(parts)


def _across(body: Any, path: str) -> list[Any]:
    """The values at ``path`` in every entry of the list its first index is into."""
    position = _list_index(path)
    if position is None:
        return [dig(body, path)]
    parts = path.split(".")
    container = dig(body, ".".join(parts[:position])) if position else body
    if not isinstance(container, list):
        return []
    rest = ".".join(parts[position + 1 :])
    return [dig(entry, rest) if rest else entry for entry in container]
