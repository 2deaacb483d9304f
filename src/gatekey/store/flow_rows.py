"""Typed records of flows, the connections their steps use, and their runs (``store.rows``
says how records are built and pinned to their tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gatekey.store.rows import Record


@dataclass(frozen=True, slots=True, repr=False)
class FlowRow(Record):
    """A flow as stored; ``webhook_hash`` is the hash of its webhook secret, never shown."""

    _shown = ("id", "version")

    id: str
    project_id: str
    name: str
    name_key: str
    description: str
    definition: dict[str, Any]
    webhook_hash: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, repr=False)
class FlowRefRow(Record):
    """Which connection one step of a flow uses (None: its app's default)."""

    _shown = ("step_id", "connection_id")

    step_id: str
    app_key: str
    connection_id: str | None


@dataclass(frozen=True, slots=True, repr=False)
class FlowUseRow(Record):
    """One step of a flow that uses a connection, by id or as its app's default."""

    _shown = ("flow_id", "step_id")

    flow_id: str
    flow_name: str
    step_id: str
    by_default: bool


@dataclass(frozen=True, slots=True, repr=False)
class RunRow(Record):
    """A run of a flow, queued, running or ended."""

    _shown = ("id", "status")

    id: str
    project_id: str
    flow_id: str
    flow_version: int
    status: str
    trigger: str
    input: dict[str, Any]
    error_code: str | None
    error_message: str | None
    failed_step: str | None
    failed_connection_id: str | None
    retry_of: str | None
    claimed_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True, repr=False)
class RunStepRow(Record):
    """One step of a run; its output and logs have every secret value masked already."""

    _shown = ("run_id", "step_id", "status")

    run_id: str
    step_id: str
    position: int
    connection_id: str | None
    status: str
    output: Any
    error_code: str | None
    error_message: str | None
    duration_ms: int | None
    logs: str | None
