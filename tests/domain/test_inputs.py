"""NUL characters and non-finite numbers: found anywhere in a value, refused by every public
method of the service, so embedded callers get the API's ``invalid_input``, not a database
error (PostgreSQL) or a stored NUL (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gatekey import Gatekey
from gatekey.domain.inputs import Flaw, find_flaw
from gatekey.errors import InvalidInput
from gatekey.runtime import Runtime
from gatekey.service import Actor, Service
from gatekey.store.tables import metadata
from tests.fakes.apps import acme
from tests.fakes.keys import MASTER_KEY
from tests.fakes.providers import GOOD_SENDGRID

NUL = "x\x00y"
NAN = float("nan")


def test_flaws_are_found_anywhere_and_named() -> None:
    assert find_flaw({"a": [1, {"b": NUL}]}, "metadata") == Flaw(
        "metadata.a.1.b", "text may not contain the NUL character (U+0000)"
    )
    assert find_flaw({"k\x00": 1}, "fields") is not None
    assert find_flaw({"k\x00": 1}, "fields").field == "fields.k\\u0000"  # type: ignore[union-attr]
    assert find_flaw(json.loads('{"n": 1e999}')).field == "n"  # type: ignore[union-attr]
    assert find_flaw(json.loads("[NaN]")).field == "0"  # type: ignore[union-attr]
    assert find_flaw(("ok", {"x"}, -float("inf")), "args").field == "args.2"  # type: ignore[union-attr]
    assert find_flaw({"text": "tab\t\u00e9 \ufffd", "n": 1e308, "big": 10**40}) is None


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    value: Any = NUL
    for _ in range(50_000):
        value = [value]
    flaw = find_flaw(value, "input")
    assert flaw is not None and flaw.field.startswith("input.0.0.")


def _rows(runtime: Runtime) -> dict[str, int]:
    runtime.service.context.audit.flush()
    with runtime.db.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def _flow(step_id: Any = "mail") -> dict[str, Any]:
    step = {"id": step_id, "app": "sendgrid", "connection": "default", "type": "http"}
    return {"steps": [{**step, "http": {"path": "/v3/x"}}]}


@pytest.mark.parametrize("poison", [NUL, NAN], ids=["nul", "nan"])
def test_every_service_entry_refuses_before_writing(
    runtime: Runtime, service: Service, actor: Actor, poison: Any
) -> None:
    connection = service.connections.create(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}, validate=False
    )
    flow = service.flows.create(actor, name="Welcome", definition=_flow())
    before = _rows(runtime)
    calls: dict[str, Any] = {
        "name": lambda: service.connections.create(
            actor, app="sendgrid", name=poison, fields={"api_key": GOOD_SENDGRID}, validate=False
        ),
        "metadata": lambda: service.connections.update(
            actor, connection.id, metadata={"team": [poison]}
        ),
        "fields": lambda: service.connections.create(
            actor, app="sendgrid", name="B", fields={"api_key": poison}, validate=False
        ),
        "config": lambda: service.connections.create(
            actor, app="sendgrid", name="C", fields={"api_key": GOOD_SENDGRID}, config={"r": poison}
        ),
        "run_input": lambda: service.runs.trigger(actor, flow.id, {"total": poison}),
        "url": lambda: service.webhooks.add(actor, url=poison),
        "definition": lambda: service.flows.create(actor, name="F", definition=_flow(poison)),
        "app": lambda: service.apps.add(actor, acme(description=poison)),
        "client_id": lambda: service.oauth_clients.register(
            actor, app="github", client_id=poison, client_secret="s3cret"
        ),
        "api_key_name": lambda: service.access.create_key(actor, name=poison),
        "query": lambda: service.connections.list(actor, text=poison),
    }
    for what, call in calls.items():
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.code == "invalid_input", what
        assert refused.value.details["field"], what
        assert GOOD_SENDGRID not in refused.value.message
    assert _rows(runtime) == before


def test_the_embedded_sdk_gets_invalid_input(tmp_path: Path, database_url: str) -> None:
    with Gatekey(database_url, home=tmp_path / "home", master_keys=MASTER_KEY) as gatekey:
        with pytest.raises(InvalidInput, match=r"metadata\.note: text may not contain the NUL"):
            gatekey.create_connection(
                "sendgrid",
                "SendGrid",
                {"api_key": GOOD_SENDGRID},
                metadata={"note": NUL},
                skip_test=True,
            )
        with pytest.raises(InvalidInput, match="numbers must be finite"):
            gatekey.create_flow("F", {"steps": [], "retries": NAN})
        assert gatekey.list_connections().items == []
        assert gatekey.list_flows() == []
