"""Flows: definitions whose steps use connections, and which connections each flow uses."""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy.exc import IntegrityError

from gatekey import ids
from gatekey.domain import flows as flow_rules
from gatekey.domain.connection import clean_name, name_key
from gatekey.domain.inputs import checked_arguments
from gatekey.errors import DuplicateName, InvalidFields, InvalidId, InvalidInput, NotFound
from gatekey.models import ConnectionUsage, Flow, FlowStepRef, FlowUse
from gatekey.service.actor import Actor, authorize, flow_webhook, within_flow
from gatekey.service.context import Context
from gatekey.store import audit as audit_rows
from gatekey.store import connections as connection_rows
from gatekey.store import flows as rows
from gatekey.store.database import Database
from gatekey.store.flow_rows import FlowRow
from gatekey.workflows.registry import StepRegistry


@checked_arguments
class Flows:
    """Create, list, change and delete flows; answer which flows use a connection."""

    def __init__(self, ctx: Context, step_registry: StepRegistry) -> None:
        self.ctx = ctx
        self.step_registry = step_registry

    @staticmethod
    def _check_flow_id(flow_id: str) -> None:
        if not isinstance(flow_id, str) or not ids.is_valid("flow", flow_id):
            raise InvalidId("flow ids look like flow_ followed by 26 characters")

    def _flow_of(self, conn: DbConnection, row: FlowRow) -> Flow:
        refs = rows.connections_of(conn, row.project_id, row.id)
        return Flow(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            description=row.description,
            definition=row.definition,
            connections=[
                FlowStepRef(step_id=r.step_id, app=r.app_key, connection_id=r.connection_id)
                for r in refs
            ],
            has_webhook=row.webhook_hash is not None,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def _validated(
        self, actor: Actor, definition: Any
    ) -> tuple[dict[str, Any], list[tuple[str, str, str | None]]]:
        """Check the definition, its apps and its connections; return it and its references."""
        flow = flow_rules.parse(definition)
        problems: list[dict[str, str]] = []
        refs: list[tuple[str, str, str | None]] = []
        with self.ctx.db.read() as conn:
            for index, step in enumerate(flow.steps):
                where = f"steps.{index}"
                if step.python is not None and step.python.callable not in self.step_registry:
                    problems.append(
                        {
                            "field": f"{where}.python.callable",
                            "message": f"{step.python.callable!r} is not a registered step "
                            "(the operator registers steps in the gatekey.steps entry-point "
                            "group or GATEKEY_STEPS)",
                        }
                    )
                if self.ctx.registry.find(actor.project_id, step.app, conn) is None:
                    problems.append({"field": f"{where}.app", "message": f"no app {step.app!r}"})
                    continue
                if step.connection == "default":
                    refs.append((step.id, step.app, None))
                    continue
                found = None
                if ids.is_valid("conn", step.connection):
                    found = connection_rows.get(conn, actor.project_id, step.connection)
                if found is None:
                    problems.append(
                        {
                            "field": f"{where}.connection",
                            "message": f"connection {step.connection} not found",
                        }
                    )
                elif found.app_key != step.app:
                    problems.append(
                        {
                            "field": f"{where}.connection",
                            "message": f"connection {step.connection} is a {found.app_key} "
                            f"connection, not {step.app}",
                        }
                    )
                else:
                    refs.append((step.id, step.app, step.connection))
        if problems:
            raise InvalidFields("the flow definition is not valid", errors=problems)
        return flow.model_dump(mode="json", exclude_none=True), refs

    def create(self, actor: Actor, *, name: str, definition: Any, description: str = "") -> Flow:
        authorize(actor, "create_flow")
        display = clean_name(name)
        stored, refs = self._validated(actor, definition)
        now = self.ctx.now()
        flow_id = ids.new_id("flow")
        try:
            with self.ctx.changing(actor, "flow.create", "flow", flow_id) as conn:
                if rows.name_taken(conn, actor.project_id, name_key(display), None):
                    raise DuplicateName(f"a flow named {display!r} already exists")
                rows.insert(
                    conn,
                    {
                        "id": flow_id,
                        "project_id": actor.project_id,
                        "name": display,
                        "name_key": name_key(display),
                        "description": str(description or "")[:2000],
                        "definition": stored,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                rows.replace_refs(conn, actor.project_id, flow_id, refs)
                audit_rows.record_now(
                    conn, [self.ctx.event(actor, "flow.create", "flow", flow_id, steps=len(refs))]
                )
        except IntegrityError:
            raise DuplicateName(f"a flow named {display!r} already exists") from None
        return self.get(actor, flow_id)

    def list(self, actor: Actor, *, connection_id: str | None = None) -> builtins.list[Flow]:
        authorize(actor, "list_flows")
        with self.ctx.db.read() as conn:
            found = [self._flow_of(conn, r) for r in rows.all_of(conn, actor.project_id)]
        if connection_id is not None:
            users = {u.flow_id for u in self.usage(actor, connection_id).flows}
            found = [f for f in found if f.id in users]
        return found

    def get(self, actor: Actor, flow_id: str) -> Flow:
        authorize(actor, "get_flow")
        self._check_flow_id(flow_id)
        within_flow(actor, flow_id, NotFound(f"flow {flow_id} not found", id=flow_id))
        with self.ctx.db.read() as conn:
            row = rows.get(conn, actor.project_id, flow_id)
            if row is None:
                raise NotFound(f"flow {flow_id} not found", id=flow_id)
            return self._flow_of(conn, row)

    def update(
        self,
        actor: Actor,
        flow_id: str,
        *,
        name: str | None = None,
        definition: Any = None,
        description: str | None = None,
    ) -> Flow:
        authorize(actor, "update_flow")
        self._check_flow_id(flow_id)
        values: dict[str, Any] = {"updated_at": self.ctx.now()}
        refs = None
        if name is not None:
            display = clean_name(name)
            values.update(name=display, name_key=name_key(display))
        if definition is not None:
            values["definition"], refs = self._validated(actor, definition)
        if description is not None:
            values["description"] = str(description)[:2000]
        with self.ctx.changing(actor, "flow.update", "flow", flow_id) as conn:
            if name is not None and rows.name_taken(
                conn, actor.project_id, values["name_key"], flow_id
            ):
                raise DuplicateName(f"a flow named {values['name']!r} already exists")
            if not rows.set_values(conn, actor.project_id, flow_id, values):
                raise NotFound(f"flow {flow_id} not found", id=flow_id)
            if refs is not None:
                rows.replace_refs(conn, actor.project_id, flow_id, refs)
            audit_rows.record_now(conn, [self.ctx.event(actor, "flow.update", "flow", flow_id)])
        return self.get(actor, flow_id)

    def delete(self, actor: Actor, flow_id: str) -> None:
        authorize(actor, "delete_flow")
        self._check_flow_id(flow_id)
        with self.ctx.changing(actor, "flow.delete", "flow", flow_id) as conn:
            if not rows.remove(conn, actor.project_id, flow_id):
                raise NotFound(f"flow {flow_id} not found", id=flow_id)
            audit_rows.record_now(conn, [self.ctx.event(actor, "flow.delete", "flow", flow_id)])

    def usage(self, actor: Actor, connection_id: str) -> ConnectionUsage:
        """Return the flows, and their steps, that use a connection (as default included)."""
        authorize(actor, "connection_usage")
        ids.check("conn", connection_id)
        with self.ctx.db.read() as conn:
            if connection_rows.get(conn, actor.project_id, connection_id) is None:
                raise NotFound(f"connection {connection_id} not found", id=connection_id)
            found = rows.using(conn, actor.project_id, connection_id)
        uses: dict[str, dict[str, Any]] = {}
        for row in found:
            use = uses.setdefault(
                row.flow_id,
                {
                    "flow_id": row.flow_id,
                    "flow_name": row.flow_name,
                    "steps": [],
                    "by_default": False,
                },
            )
            use["steps"].append(row.step_id)
            use["by_default"] = use["by_default"] or row.by_default
        return ConnectionUsage(
            connection_id=connection_id, flows=[FlowUse(**u) for u in uses.values()]
        )

    def replace_connection(self, actor: Actor, connection_id: str, replacement_id: str) -> int:
        """Point every flow step that names ``connection_id`` at ``replacement_id`` instead.

        Both must be connections of the same app in the actor's project; one transaction.
        Return how many steps moved.
        """
        authorize(actor, "replace_connection")
        ids.check("conn", connection_id)
        ids.check("conn", replacement_id)
        moved = 0
        with self.ctx.changing(actor, "connection.replace", "connection", connection_id) as conn:
            old = connection_rows.get(conn, actor.project_id, connection_id)
            new = connection_rows.get(conn, actor.project_id, replacement_id)
            if old is None or new is None:
                missing = connection_id if old is None else replacement_id
                raise NotFound(f"connection {missing} not found", id=missing)
            if old.app_key != new.app_key:
                raise InvalidInput(
                    f"{new.name!r} is a {new.app_key} connection; {old.name!r} is {old.app_key}"
                )
            for row in rows.all_of(conn, actor.project_id):
                steps = row.definition.get("steps", [])
                changed = [s for s in steps if s.get("connection") == connection_id]
                if not changed:
                    continue
                definition = {
                    **row.definition,
                    "steps": [
                        {**s, "connection": replacement_id}
                        if s.get("connection") == connection_id
                        else s
                        for s in steps
                    ],
                }
                rows.set_values(
                    conn,
                    actor.project_id,
                    row.id,
                    {"definition": definition, "updated_at": self.ctx.now()},
                )
                rows.move_refs(conn, row.id, connection_id, replacement_id)
                moved += len(changed)
            audit_rows.record_now(
                conn,
                [
                    self.ctx.event(
                        actor,
                        "connection.replace",
                        "connection",
                        connection_id,
                        replacement=replacement_id,
                        steps=moved,
                    )
                ],
            )
        return moved

    def rotate_webhook(self, actor: Actor, flow_id: str) -> str:
        """Give the flow a new webhook secret (the old URL stops working); return it once."""
        authorize(actor, "rotate_webhook")
        self.get(actor, flow_id)
        secret = secrets.token_urlsafe(32)
        with self.ctx.changing(actor, "flow.webhook", "flow", flow_id) as conn:
            rows.set_values(
                conn,
                actor.project_id,
                flow_id,
                {"webhook_hash": hashlib.sha256(secret.encode()).hexdigest()},
            )
            audit_rows.record_now(conn, [self.ctx.event(actor, "flow.webhook", "flow", flow_id)])
        return secret


def webhook_actor(db: Database, flow_id: str, secret: str) -> Actor:
    """Return who a webhook call acts as, if the flow's current secret matches."""
    ids.check("flow", flow_id)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with db.read() as conn:
        row = rows.by_webhook(conn, digest)
    if row is None or row.id != flow_id or not hmac.compare_digest(row.webhook_hash or "", digest):
        raise NotFound("no such webhook")
    return flow_webhook(row.project_id, flow_id)
