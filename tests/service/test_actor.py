"""The role table (``domain.roles``) against every public operation, called as every role.

An operation of the service that acts for an actor but has no row in the table, or no call
here, fails the first test: adding a method means deciding who may call it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gatekey.domain.roles import PERMISSIONS, ROLES, Internal, Role
from gatekey.errors import (
    GatekeyError,
    PermissionDenied,
)
from gatekey.runtime import Runtime
from gatekey.server import create_app
from gatekey.service import Actor, Service
from gatekey.store import tables
from tests.fakes.providers import (
    GOOD_SENDGRID,
    sendgrid_connection,
)


@dataclass
class World:
    """One of everything in the project, made by the operator."""

    connection: str
    spare: str
    flow: str
    spare_flow: str
    run: str
    webhook: str
    oauth_client: str
    oauth_session: str
    api_key: str
    app: str = "role-crm"


APP = {
    "key": "role-crm",
    "name": "Role CRM",
    "description": "A project app.",
    "docs_url": "https://crm.example.com/docs",
    "base_url": "https://crm.example.com",
    "auth": [
        {
            "kind": "api_key",
            "fields": {"properties": {"api_key": {"title": "Key", "secret": True}}},
            "apply": [{"type": "header", "name": "X-Key", "value": "{api_key}"}],
        }
    ],
}
FIELDS = {"api_key": GOOD_SENDGRID}


def _flow(connection: str) -> dict[str, Any]:
    step = {"id": "s", "app": "sendgrid", "connection": connection, "type": "http"}
    return {"steps": [{**step, "http": {"path": "/v3/scopes"}}]}


def _world(service: Service, operator: Actor) -> World:
    def made(name: str) -> str:
        return service.connections.create(
            operator, app="sendgrid", name=name, fields=FIELDS, validate=False
        ).id

    connection, spare = made("Main"), made("Spare")
    flow = service.flows.create(operator, name="Flow", definition=_flow(connection)).id
    spare_flow = service.flows.create(operator, name="Spare flow", definition=_flow(spare)).id
    client = service.oauth_clients.register(
        operator, app="github", client_id="gh-client", client_secret="gh-secret-CANARY"
    )
    service.apps.add(operator, APP)
    return World(
        connection=connection,
        spare=spare,
        flow=flow,
        spare_flow=spare_flow,
        run=service.runs.trigger(operator, flow, {}).id,
        webhook=service.webhooks.add(operator, url="https://hooks.example.com/x").id,
        oauth_client=client.id,
        oauth_session=service.authorizations.start(operator, app="github").id,
        api_key=service.access.create_key(operator, name="spare", role="runtime").id,
    )


Call = Callable[[Service, Actor, World], object]
CALLS: dict[str, Call] = {
    "list_apps": lambda s, a, w: s.apps.list(a),
    "get_app": lambda s, a, w: s.apps.get(a, "sendgrid"),
    "add_app": lambda s, a, w: s.apps.add(a, {**APP, "key": "role-crm-2"}),
    "replace_app": lambda s, a, w: s.apps.replace(a, w.app, {**APP, "name": "Role CRM 2"}),
    "delete_app": lambda s, a, w: s.apps.delete(a, "role-crm-2"),
    "list_connections": lambda s, a, w: s.connections.list(a),
    "get_connection": lambda s, a, w: s.connections.get(a, w.connection),
    "diagnose_connection": lambda s, a, w: s.connections.diagnose(a, w.connection),
    "create_connection": lambda s, a, w: s.connections.create(
        a, app="sendgrid", name=f"New {a.role}", fields=FIELDS, validate=False
    ),
    "update_connection": lambda s, a, w: s.connections.update(a, w.connection, metadata={"a": 1}),
    "rename_connection": lambda s, a, w: s.connections.rename(a, w.connection, f"Main {a.role}"),
    "set_default": lambda s, a, w: s.connections.set_default(a, w.connection),
    "replace_credentials": lambda s, a, w: s.connections.replace_credentials(
        a, w.connection, fields=FIELDS, validate=False
    ),
    "delete_connection": lambda s, a, w: s.connections.delete(a, w.spare, force=True),
    "test_connection": lambda s, a, w: s.connections.test(a, w.connection),
    "connection_usage": lambda s, a, w: s.flows.usage(a, w.connection),
    "replace_connection": lambda s, a, w: s.flows.replace_connection(a, w.spare, w.connection),
    "audit_trail": lambda s, a, w: s.connections.audit_trail(a, w.connection),
    "resolve_credentials": lambda s, a, w: s.credentials.resolve(a, w.connection),
    "proxy": lambda s, a, w: s.proxy.send(a, w.connection, "GET", "/v3/scopes"),
    "export_connections": lambda s, a, w: s.transfer.export_connections(
        a, passphrase="a long phrase"
    ),
    "import_connections": lambda s, a, w: s.transfer.import_connections(a, {"connections": []}),
    "list_oauth_clients": lambda s, a, w: s.oauth_clients.list(a),
    "get_oauth_client": lambda s, a, w: s.oauth_clients.get(a, w.oauth_client),
    "register_oauth_client": lambda s, a, w: s.oauth_clients.register(
        a, app="slack", client_id="sl", client_secret="sl-secret"
    ),
    "update_oauth_client": lambda s, a, w: s.oauth_clients.update(
        a, w.oauth_client, scopes=["repo"]
    ),
    "delete_oauth_client": lambda s, a, w: s.oauth_clients.delete(a, w.oauth_client),
    "start_authorization": lambda s, a, w: s.authorizations.start(a, app="github"),
    "authorization_status": lambda s, a, w: s.authorizations.status(a, w.oauth_session),
    "list_flows": lambda s, a, w: s.flows.list(a),
    "get_flow": lambda s, a, w: s.flows.get(a, w.flow),
    "create_flow": lambda s, a, w: s.flows.create(
        a, name=f"Flow {a.role}", definition=_flow(w.connection)
    ),
    "update_flow": lambda s, a, w: s.flows.update(a, w.flow, description="changed"),
    "delete_flow": lambda s, a, w: s.flows.delete(a, w.spare_flow),
    "rotate_webhook": lambda s, a, w: s.flows.rotate_webhook(a, w.flow),
    "trigger_run": lambda s, a, w: s.runs.trigger(a, w.flow, {}),
    "get_run": lambda s, a, w: s.runs.get(a, w.run),
    "list_runs": lambda s, a, w: s.runs.list(a),
    "retry_run": lambda s, a, w: s.runs.retry(a, w.run),
    "add_webhook": lambda s, a, w: s.webhooks.add(a, url="https://hooks.example.com/y"),
    "list_webhooks": lambda s, a, w: s.webhooks.list(a),
    "delete_webhook": lambda s, a, w: s.webhooks.delete(a, w.webhook),
    "webhook_deliveries": lambda s, a, w: s.webhooks.deliveries(a, w.webhook),
    "ping_webhook": lambda s, a, w: s.webhooks.ping(a, w.webhook),
    "project_audit": lambda s, a, w: s.audit.events(a),
    "verify_audit": lambda s, a, w: s.audit.verify(a),
    "create_api_key": lambda s, a, w: s.access.create_key(a, name="new", role="admin"),
    "list_api_keys": lambda s, a, w: s.access.list_keys(a),
    "revoke_api_key": lambda s, a, w: s.access.revoke_key(a, w.api_key),
    "open_credentials": lambda s, a, w: s.credentials.open(a, w.connection),
}


def _operations() -> set[str]:
    """The operation every public method of every part checks, when its first parameter is
    the acting ``actor`` (all of them but ``system``'s): each checks exactly one."""
    found = set()
    parts = typing.get_type_hints(Service)
    for part in dataclasses.fields(Service):
        if part.name in ("system", "context", "internals"):
            continue
        for name, method in inspect.getmembers(parts[part.name], inspect.isfunction):
            parameters = list(inspect.signature(method).parameters)
            if name.startswith("_") or parameters[:2] != ["self", "actor"]:
                continue
            named = re.findall(r'authorize\(actor, "([a-z_]+)"\)', inspect.getsource(method))
            assert len(named) == 1, f"{part.name}.{name} checks {named or 'no role'}"
            found.add(named[0])
    return found


def test_every_part_but_system_acts_for_an_actor() -> None:
    parts = typing.get_type_hints(Service)
    for part in dataclasses.fields(Service):
        if part.name in ("system", "context", "internals"):
            continue
        for name, method in inspect.getmembers(parts[part.name], inspect.isfunction):
            if not name.startswith("_"):
                parameters = list(inspect.signature(method).parameters)
                assert parameters[:2] == ["self", "actor"], f"{part.name}.{name} takes no actor"


def test_every_operation_has_a_row_in_the_table_and_a_call_here() -> None:
    operations = _operations()
    assert operations - set(PERMISSIONS) == set(), "operations the role table does not name"
    assert set(PERMISSIONS) - operations == set(), "rows for operations that do not exist"
    assert set(CALLS) == operations


def _state(service: Service) -> dict[str, Any]:
    counted = [
        tables.connections,
        tables.flows,
        tables.runs,
        tables.api_keys,
        tables.webhook_endpoints,
        tables.webhook_deliveries,
        tables.oauth_clients,
        tables.oauth_sessions,
        tables.project_apps,
    ]
    with service.context.db.read() as conn:
        state: dict[str, Any] = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in counted
        }
        state["changes"] = sorted(
            (r.id, r.name, r.version, r.is_default, repr(r.meta))
            for r in conn.execute(select(tables.connections)).all()
        )
        state["flows"] = sorted(
            (r.id, r.version, r.description, r.webhook_hash)
            for r in conn.execute(select(tables.flows)).all()
        )
        state["keys"] = sorted(
            (r.id, r.revoked_at) for r in conn.execute(select(tables.api_keys)).all()
        )
        state["clients"] = sorted(
            (r.id, repr(r.scopes)) for r in conn.execute(select(tables.oauth_clients)).all()
        )
    return state


def _outcome(call: Call, service: Service, actor: Actor, world: World) -> str:
    try:
        call(service, actor, world)
    except PermissionDenied:
        return "denied"
    except GatekeyError:
        return "allowed"  # refused for another reason (missing, invalid, in use), after the check
    return "allowed"


def test_each_role_may_do_exactly_what_the_table_says(service: Service, actor: Actor) -> None:
    world = _world(service, actor)
    as_role = {role: Actor(actor.project_id, f"key_as_{role}", role) for role in ROLES}
    before = _state(service)
    wrong = []
    for operation, call in CALLS.items():
        for role in set(ROLES) - PERMISSIONS[operation]:
            if _outcome(call, service, as_role[role], world) != "denied":
                wrong.append((operation, role.value, "ran although the table denies it"))
    assert wrong == []
    assert _state(service) == before, "a refused call changed something"
    destructive_last = sorted(CALLS.items(), key=lambda c: c[0].startswith(("delete", "revoke")))
    for operation, call in destructive_last:
        for role in [*PERMISSIONS[operation], None]:
            who = as_role[role] if role is not None else actor  # None: the local operator
            if _outcome(call, service, who, world) != "allowed":
                wrong.append((operation, str(role or "operator"), "denied although allowed"))
    assert wrong == []


def test_runtime_keys_read_metadata_and_use_credentials_only() -> None:
    """The README's promise, as a reading of the table."""
    runtime = {op for op, roles in PERMISSIONS.items() if Role.RUNTIME in roles}
    assert runtime == {
        "list_apps",
        "get_app",
        "list_connections",
        "get_connection",
        "diagnose_connection",
        "resolve_credentials",
        "proxy",
    }
    assert {op for op, roles in PERMISSIONS.items() if Internal.RUN in roles} == {
        "resolve_credentials",
        "proxy",
    }
    assert {op for op, roles in PERMISSIONS.items() if Internal.FLOW_WEBHOOK in roles} == {
        "trigger_run",
        "get_flow",
        "get_run",
    }
    assert all(Role.ADMIN in roles for roles in PERMISSIONS.values())


def test_a_runtime_key_cannot_read_or_run_flows_over_http(runtime: Runtime, actor: Actor) -> None:
    service = runtime.service
    world = _world(service, actor)
    worker = service.access.create_key(actor, name="engine", role="runtime")
    admin = service.access.create_key(actor, name="admin", role="admin")
    queued_before = len(service.runs.list(actor))
    with TestClient(create_app(runtime)) as http:
        key = {"Authorization": f"Bearer {worker.token}"}
        refused = [
            http.get("/api/v1/flows", headers=key),
            http.get(f"/api/v1/flows/{world.flow}", headers=key),
            http.post(f"/api/v1/flows/{world.flow}/runs", json={}, headers=key),
            http.get("/api/v1/runs", headers=key),
            http.get(f"/api/v1/runs/{world.run}", headers=key),
            http.post(f"/api/v1/runs/{world.run}/retry", headers=key),
            http.get(f"/api/v1/connections/{world.connection}/usage", headers=key),
            http.get(f"/api/v1/oauth/sessions/{world.oauth_session}", headers=key),
        ]
        assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "forbidden")] * 8
        used = http.post(f"/api/v1/connections/{world.connection}/credentials", headers=key)
        assert used.status_code == 200
        assert http.get("/api/v1/connections", headers=key).status_code == 200
        assert len(service.runs.list(actor)) == queued_before
        url = http.post(
            f"/api/v1/flows/{world.flow}/webhook",
            headers={"Authorization": f"Bearer {admin.token}"},
        ).json()["url"]
        hooked = http.post(urlsplit(url).path, json={})
        assert hooked.status_code == 202
    assert len(service.runs.list(actor)) == queued_before + 1


def test_runtime_role_reads_and_resolves_only(service: Service, actor: Actor) -> None:
    created = sendgrid_connection(service, actor)
    runtime_actor = Actor(actor.project_id, "key_runtime", Role.RUNTIME)
    assert service.connections.get(runtime_actor, created.id).id == created.id
    assert service.credentials.resolve(runtime_actor, created.id).connection_id == created.id
    assert service.apps.list(runtime_actor)
    denied = [
        lambda: sendgrid_connection(service, runtime_actor, name="x"),
        lambda: service.connections.rename(runtime_actor, created.id, "x"),
        lambda: service.connections.set_default(runtime_actor, created.id),
        lambda: service.connections.delete(runtime_actor, created.id),
        lambda: service.connections.test(runtime_actor, created.id),
        lambda: service.access.create_key(runtime_actor, name="x", role="admin"),
        lambda: service.access.list_keys(runtime_actor),
    ]
    for call in denied:
        with pytest.raises(PermissionDenied):
            call()
    assert service.connections.get(actor, created.id).name == "SendGrid - Production"
