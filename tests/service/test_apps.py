"""Apps a project adds through the service: validated like catalog files, seen where those are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gatekey.catalog.loader import app_from_data, builtin_apps
from gatekey.catalog.schema import public_view
from gatekey.domain.connection import Role
from gatekey.errors import (
    AppExists,
    AppInUse,
    InvalidAppDefinition,
    InvalidFields,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    UnknownApp,
)
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.service.apps import stored_definition
from gatekey.settings import Settings
from tests.fakes.apps import acme, probe_app
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.sandbox import CLIENT_ID, CLIENT_SECRET, Sandbox
from tests.fakes.timing import within


def test_a_project_app_shows_up_for_that_project_only(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    added = service.apps.add(actor, acme())

    assert added.key == "acme-crm" and not added.builtin
    listed = {a.key: a for a in service.apps.list(actor)}
    assert listed["acme-crm"].source == "project"
    assert listed["sendgrid"].source == "builtin"
    assert [a.key for a in service.apps.list(actor, "acme")] == ["acme-crm"]
    assert service.apps.get(actor, "acme-crm").name == "Acme CRM"
    assert "acme-crm" not in {a.key for a in service.apps.list(other_actor)}
    with pytest.raises(UnknownApp):
        service.apps.get(other_actor, "acme-crm")
    with pytest.raises(UnknownApp):
        service.connections.create(
            other_actor, app="acme-crm", name="A", fields={"api_key": GOOD_SENDGRID}
        )


def test_connections_of_a_project_app_are_tested_and_resolved(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    service.apps.add(actor, acme())

    connection = service.connections.create(
        actor, app="acme-crm", name="Acme", fields={"api_key": GOOD_SENDGRID}
    )

    assert connection.account_label == "someone@acme.test"
    assert providers.requests[-1].url.host == "api.acme.test"
    assert providers.requests[-1].headers["Authorization"] == f"Bearer {GOOD_SENDGRID}"
    credentials = service.credentials.resolve(actor, connection.id)
    assert credentials.headers == {"Authorization": f"Bearer {GOOD_SENDGRID}"}
    assert credentials.base_url == "https://api.acme.test"
    page = service.connections.list(actor, app="acme-crm")
    assert [c.id for c in page.items] == [connection.id]
    assert service.connections.test(actor, connection.id).ok


def test_a_refused_definition_says_where_and_stores_nothing(service: Service, actor: Actor) -> None:
    broken = acme(base_url="https://{tenant}.acme.test", docs_url="not a url")
    with pytest.raises(InvalidAppDefinition) as caught:
        service.apps.add(actor, broken)
    fields = [e["field"] for e in caught.value.details["errors"]]
    assert "docs_url" in fields
    with pytest.raises(InvalidAppDefinition, match="JSON object"):
        service.apps.add(actor, ["not", "a", "mapping"])
    with pytest.raises(InvalidAppDefinition, match="builtin"):
        service.apps.add(actor, acme(builtin=True))
    with pytest.raises(PayloadTooLarge):
        service.apps.add(actor, acme(description="x" * 70_000))
    assert "acme-crm" not in {a.key for a in service.apps.list(actor)}


def test_keys_are_unique_within_what_a_project_sees(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    with pytest.raises(AppExists, match="catalog"):
        service.apps.add(actor, acme(key="sendgrid"))
    service.apps.add(actor, acme())
    with pytest.raises(AppExists, match="this project"):
        service.apps.add(actor, acme(name="Another"))
    service.apps.add(other_actor, acme(name="Their Acme"))
    assert service.apps.get(other_actor, "acme-crm").name == "Their Acme"
    assert service.apps.get(actor, "acme-crm").name == "Acme CRM"


def test_only_admins_change_apps_and_catalog_apps_are_not_theirs(
    service: Service, actor: Actor
) -> None:
    runtime_actor = Actor(actor.project_id, "key_runtime", Role.RUNTIME)
    with pytest.raises(PermissionDenied):
        service.apps.add(runtime_actor, acme())
    service.apps.add(actor, acme())
    assert service.apps.get(runtime_actor, "acme-crm").key == "acme-crm"
    with pytest.raises(PermissionDenied):
        service.apps.delete(runtime_actor, "acme-crm")
    with pytest.raises(PermissionDenied, match="catalog app"):
        service.apps.replace(actor, "sendgrid", acme(key="sendgrid"))
    with pytest.raises(PermissionDenied, match="catalog app"):
        service.apps.delete(actor, "sendgrid")
    with pytest.raises(NotFound):
        service.apps.delete(actor, "nothing-here")
    with pytest.raises(InvalidInput):
        service.apps.delete(actor, "../etc")


def test_replace_keeps_what_connections_use(service: Service, actor: Actor) -> None:
    service.apps.add(actor, acme())
    connection = service.connections.create(
        actor, app="acme-crm", name="Acme", fields={"api_key": GOOD_SENDGRID}
    )
    basic_only = acme(
        auth=[
            {
                "kind": "basic",
                "fields": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"title": "User"},
                        "password": {"title": "Password", "secret": True},
                    },
                },
                "apply": [{"type": "basic", "username": "{username}", "password": "{password}"}],
            }
        ]
    )
    with pytest.raises(AppInUse) as caught:
        service.apps.replace(actor, "acme-crm", basic_only)
    assert caught.value.details["connections"] == 1
    with pytest.raises(InvalidInput, match="keys stay"):
        service.apps.replace(actor, "acme-crm", acme(key="acme-other"))

    renamed = acme(name="Acme CRM (EU)", base_url="https://eu.api.acme.test")
    del renamed["key"]
    assert service.apps.replace(actor, "acme-crm", renamed).name == "Acme CRM (EU)"

    credentials = service.credentials.resolve(actor, connection.id)
    assert credentials.base_url == "https://eu.api.acme.test"
    assert service.apps.get(actor, "acme-crm").name == "Acme CRM (EU)"


def test_delete_waits_until_nothing_uses_the_app(service: Service, actor: Actor) -> None:
    service.apps.add(actor, acme())
    connection = service.connections.create(
        actor, app="acme-crm", name="Acme", fields={"api_key": GOOD_SENDGRID}
    )
    service.flows.create(
        actor,
        name="Sync",
        definition={
            "steps": [
                {
                    "id": "fetch",
                    "app": "acme-crm",
                    "connection": "default",
                    "type": "http",
                    "http": {"method": "GET", "path": "/contacts"},
                }
            ]
        },
    )
    with pytest.raises(AppInUse) as caught:
        service.apps.delete(actor, "acme-crm")
    assert caught.value.details == {"connections": 1, "flows": ["Sync"]}

    service.connections.delete(actor, connection.id, force=True)
    service.flows.delete(actor, service.flows.list(actor)[0].id)
    service.apps.delete(actor, "acme-crm")

    assert "acme-crm" not in {a.key for a in service.apps.list(actor)}
    actions = [
        e.action for e in service.connections.audit_trail(actor) if e.object_id == "acme-crm"
    ]
    assert actions == ["app.delete", "app.create"]


@pytest.fixture
def live_runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime that talks to real servers (no sandbox app in its catalog)."""
    rt = open_runtime(settings)
    yield rt
    rt.close()


def test_an_oauth_app_added_through_the_api_connects_and_refreshes(
    live_runtime: Runtime, sandbox: Sandbox
) -> None:
    """The sandbox's definition under another key: authorize, resolve, refresh, all real."""
    sandbox.control("reset")
    service = live_runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    definition = stored_definition(sandbox.app)
    definition.update(key="tasks-eu", name="Tasks EU")
    service.apps.add(actor, definition)
    service.oauth_clients.register(
        actor, app="tasks-eu", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )

    session = service.authorizations.start(actor, app="tasks-eu", name="Tasks - Ada")
    outcome = service.system.complete_authorization(sandbox.consent(session.authorize_url or ""))

    assert outcome.status == "succeeded", outcome.error_message
    connection_id = outcome.connection_id or ""
    first = service.credentials.resolve(actor, connection_id).fields["access_token"]
    fresh = service.credentials.resolve(actor, connection_id, stale_token=first)
    assert fresh.fields["access_token"] != first
    assert sandbox.token_requests("refresh_token") == 1


def test_every_catalog_entry_survives_the_stored_form() -> None:
    """What the API stores re-validates to the same app, so any catalog file can be posted."""
    for app in builtin_apps():
        again = app_from_data({**stored_definition(app), "builtin": True}, app.key)
        assert again == app, app.key
        assert "builtin" not in stored_definition(app)
        assert public_view(again) == public_view(app)


def test_the_probes_derive_pattern_cannot_freeze_the_process(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    """On ``re``, 29 ``a``s and a ``!`` held the GIL for 15 s and 10,000 never finished."""
    service.apps.add(actor, probe_app())
    accepted = "a" * 9_999 + "x"
    providers.accepted.add(accepted)
    outcome: list[object] = []

    def work() -> None:
        for value in ("a" * 29 + "!", "a" * 9_999 + "!"):
            try:
                service.connections.create(
                    actor, app="acme-crm", name=f"Acme {len(value)}", fields={"api_key": value}
                )
            except InvalidFields as exc:
                outcome.append(exc.details["errors"])
        connection = service.connections.create(
            actor, app="acme-crm", name="Acme", fields={"api_key": accepted}
        )
        outcome.append(service.credentials.resolve(actor, connection.id).headers["X-Acme-Dc"])

    within(30, work)
    no_dc = [{"field": "fields.api_key", "message": "no dc in it"}]
    assert outcome == [no_dc, no_dc, "x"]
    assert [r.headers["X-Acme-Dc"] for r in providers.requests] == ["x"]
    assert [c.name for c in service.connections.list(actor, app="acme-crm").items] == ["Acme"]


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    definition = acme()
    change(definition["auth"][0])
    return definition


@pytest.mark.parametrize(
    ("definition", "field", "message"),
    [
        (
            _with(lambda m: m["fields"]["properties"]["api_key"].update(pattern=r"^(a)\1$")),
            "auth.0.fields.properties.api_key.pattern",
            r"not a pattern RE2 can run: invalid escape sequence: \1",
        ),
        (
            _with(
                lambda m: m.update(
                    derive={"dc": {"source": "api_key", "pattern": r"(?<=-)(?P<value>\w+)"}}
                )
            ),
            "auth.0.derive.dc.pattern",
            "not a pattern RE2 can run: invalid perl operator: (?<=",
        ),
        (
            _with(
                lambda m: m.update(
                    derive={
                        "dc": {"source": "api_key", "pattern": r"(?P<value>[a-z]{1000}\d{999})"}
                    }
                )
            ),
            "auth.0.derive.dc.pattern",
            "the pattern is too complex",
        ),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_at_definition_naming_the_field(
    service: Service,
    actor: Actor,
    definition: dict[str, Any],
    field: str,
    message: str,
) -> None:
    with pytest.raises(InvalidAppDefinition) as caught:
        service.apps.add(actor, definition)
    errors = caught.value.details["errors"]
    assert [e["field"] for e in errors] == [field]
    assert message in errors[0]["message"]
    assert "acme-crm" not in {a.key for a in service.apps.list(actor)}

    service.apps.add(actor, acme())
    with pytest.raises(InvalidAppDefinition) as caught:
        service.apps.replace(actor, "acme-crm", definition)
    assert [e["field"] for e in caught.value.details["errors"]] == [field]
    assert service.apps.get(actor, "acme-crm") == app_from_data({**acme(), "builtin": False}, "x")


@pytest.mark.parametrize(
    ("change", "field", "found"),
    [
        (
            lambda m: m.update(apply=[{"type": "header", "name": "X-Key\r\nX-Evil", "value": "1"}]),
            "auth.0.apply.0.header.name",
            "a carriage return (CR)",
        ),
        (
            lambda m: m.update(
                apply=[{"type": "header", "name": "X-Key", "value": "{api_key}\r\nX-Evil: 1"}]
            ),
            "auth.0.apply.0.header.value",
            "a carriage return (CR)",
        ),
        (
            lambda m: m.update(apply=[{"type": "bearer", "value": "{api_key}\nX-Evil: 1"}]),
            "auth.0.apply.0.bearer.value",
            "a line feed (LF)",
        ),
        (
            lambda m: m["test_request"].update(headers={"Accept\r\nX-Evil": "1"}),
            "auth.0.test_request.headers",
            "a carriage return (CR)",
        ),
        (
            lambda m: m["test_request"].update(headers={"X-Trace": "1\nX-Evil: 1"}),
            "auth.0.test_request.headers",
            "a line feed (LF)",
        ),
        (
            lambda m: m["test_request"].update(path="/me\r\nHost: evil.test"),
            "auth.0.test_request.path",
            "a carriage return (CR)",
        ),
        (
            lambda m: m.update(base_url="https://api.acme.test/\nv2"),
            "auth.0.base_url",
            "a line feed (LF)",
        ),
    ],
)
def test_cr_lf_in_header_text_is_refused_at_definition_naming_the_field(
    service: Service,
    actor: Actor,
    change: Callable[[dict[str, Any]], None],
    field: str,
    found: str,
) -> None:
    with pytest.raises(InvalidAppDefinition) as caught:
        service.apps.add(actor, _with(change))
    errors = caught.value.details["errors"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["message"].endswith(f"found {found}")
    assert "\r" not in caught.value.message and "\n" not in caught.value.message
    assert "acme-crm" not in {a.key for a in service.apps.list(actor)}


def test_extra_oauth_parameters_refuse_control_characters(service: Service, actor: Actor) -> None:
    definition = stored_definition(service.internals.catalog.get("gmail"))
    definition.update(key="gmail-eu", name="Gmail EU")
    definition["auth"][0]["oauth2"]["extra_authorize_params"] = {"prompt": "consent\r\nX: 1"}
    with pytest.raises(InvalidAppDefinition) as caught:
        service.apps.add(actor, definition)
    assert [e["field"] for e in caught.value.details["errors"]] == [
        "auth.0.oauth2.extra_authorize_params"
    ]
    assert "parameter 'prompt'" in caught.value.message


def test_a_secret_a_header_cannot_carry_is_refused_before_any_request(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    """It used to be sent, and the HTTP client's refusal surfaced as a misleading 502."""
    with pytest.raises(InvalidFields) as caught:
        service.connections.create(
            actor,
            app="custom-http",
            name="Custom",
            fields={"header_value": "Bearer CANARY\r\nX-Evil: 1"},
            config={"base_url": "https://api.acme.test", "header_name": "X-Key"},
        )
    assert [e["field"] for e in caught.value.details["errors"]] == ["fields.header_value"]
    assert "CANARY" not in str(caught.value.message) + str(caught.value.details)
    assert providers.requests == []
