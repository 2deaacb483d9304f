"""The typed records of ``store`` hold every column of their table (the sealed ones where
they travel along), and show their ids only."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields

import pytest
from sqlalchemy import Table

from gatekey.service import Actor, Service
from gatekey.store import connections as rows
from gatekey.store import sealed
from gatekey.store.flow_rows import FlowRefRow, FlowRow, FlowUseRow, RunRow, RunStepRow
from gatekey.store.rows import (
    ApiKeyRow,
    AuditEventRow,
    ConnectionRow,
    KeepAliveCandidateRow,
    OAuthClientRow,
    OAuthSessionRow,
    ProjectAppRow,
    ProjectRow,
    Record,
    RefreshCandidateRow,
    SealedOAuthClientRow,
    SealedRow,
    WebSessionRow,
)
from gatekey.store.tables import (
    SEALED_TABLES,
    api_keys,
    audit_events,
    connections,
    flow_refs,
    flows,
    oauth_clients,
    oauth_sessions,
    project_apps,
    projects,
    run_steps,
    runs,
    web_sessions,
    webhook_deliveries,
    webhook_endpoints,
)
from gatekey.store.webhook_rows import DeliveryRow, DeliveryToSend, EndpointRow

WHOLE: list[tuple[type[Record], Table, set[str]]] = [
    (ConnectionRow, connections, set(rows.SECRET_COLUMNS)),
    (OAuthSessionRow, oauth_sessions, set()),
    (OAuthClientRow, oauth_clients, set(sealed.COLUMNS)),
    (SealedOAuthClientRow, oauth_clients, set()),
    (ProjectRow, projects, set()),
    (ApiKeyRow, api_keys, set()),
    (WebSessionRow, web_sessions, set()),
    (ProjectAppRow, project_apps, set()),
    (AuditEventRow, audit_events, set()),
    (FlowRow, flows, set()),
    (RunRow, runs, set()),
    (RunStepRow, run_steps, set()),
    (EndpointRow, webhook_endpoints, set(sealed.COLUMNS)),
    (DeliveryRow, webhook_deliveries, set()),
]
"""Records of a whole table: every column but the excluded ones."""

EVERY_RECORD = [
    *(record for record, _, _ in WHOLE),
    DeliveryToSend,
    FlowRefRow,
    FlowUseRow,
    KeepAliveCandidateRow,
    RefreshCandidateRow,
    SealedRow,
]


def _names(record: type[Record]) -> set[str]:
    return {f.name for f in fields(record)}  # type: ignore[arg-type]


@pytest.mark.parametrize(("record", "table", "left_out"), WHOLE, ids=lambda v: str(v))
def test_a_record_has_every_column_of_its_table_but_those_left_out(
    record: type[Record], table: Table, left_out: set[str]
) -> None:
    assert _names(record) == {c.name for c in table.c} - left_out


def test_the_records_of_projections_name_columns_of_their_tables() -> None:
    assert _names(DeliveryToSend) == (
        {c.name for c in webhook_deliveries.c} | {"url", *sealed.COLUMNS}
    )
    assert _names(FlowRefRow) <= {c.name for c in flow_refs.c}
    assert _names(RefreshCandidateRow) <= {c.name for c in connections.c}
    assert _names(KeepAliveCandidateRow) <= {c.name for c in connections.c}
    for table in SEALED_TABLES:
        assert _names(SealedRow) <= {c.name for c in table.c}


@pytest.mark.parametrize("record", EVERY_RECORD, ids=lambda r: r.__name__)
def test_a_record_shows_its_ids_only(record: type[Record]) -> None:
    names = _names(record)
    made = record(**{name: f"CANARY-{name}" for name in names})
    shown = repr(made)
    assert shown.startswith(f"{record.__name__}(")
    assert {n for n in names if f"CANARY-{n}'" in shown} == set(record._shown)
    secret = {"secret_ciphertext", "dek_wrapped", "token_hash", "csrf", "body", "webhook_hash"}
    assert not set(record._shown) & secret


def test_rows_read_are_frozen_records_that_show_their_id_only(
    service: Service, actor: Actor
) -> None:
    made = service.connections.create(
        actor,
        app="sendgrid",
        name="Typed",
        fields={"api_key": "SG.typed.value"},
        metadata={"owner": "ada@example.com"},
        validate=False,
    )
    with service.context.db.read() as conn:
        row = rows.get(conn, actor.project_id, made.id)
        (listed,) = rows.page(
            conn, actor.project_id, status=None, app_key=None, text=None, after=None, limit=5
        )
    assert isinstance(row, ConnectionRow) and listed == row
    assert row.meta == {"owner": "ada@example.com"} and row.version == 1
    assert "ada@example.com" not in repr(row) and made.id in repr(row)
    with pytest.raises(FrozenInstanceError):
        row.status = "inactive"  # type: ignore[misc]
