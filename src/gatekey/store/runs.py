"""SQL for runs and their steps; the queue is the ``runs`` table itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, or_, select, update

from gatekey.domain.runs import ENDED_FAILED
from gatekey.store.flow_rows import RunRow, RunStepRow
from gatekey.store.tables import run_steps, runs


def insert(conn: Connection, values: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> None:
    conn.execute(runs.insert().values(**values))
    if steps:
        conn.execute(run_steps.insert(), list(steps))


def get(conn: Connection, project_id: str, run_id: str) -> RunRow | None:
    return RunRow.first_of(
        conn.execute(select(runs).where(runs.c.id == run_id, runs.c.project_id == project_id))
    )


def by_id(conn: Connection, run_id: str) -> RunRow | None:
    return RunRow.first_of(conn.execute(select(runs).where(runs.c.id == run_id)))


def steps_of(conn: Connection, run_id: str) -> list[RunStepRow]:
    query: Select[Any] = (
        select(run_steps).where(run_steps.c.run_id == run_id).order_by(run_steps.c.position)
    )
    return RunStepRow.all_of(conn.execute(query))


def page(
    conn: Connection,
    project_id: str,
    *,
    flow_id: str | None,
    status: str | None,
    connection_id: str | None,
    limit: int,
) -> list[RunRow]:
    query: Select[Any] = select(runs).where(runs.c.project_id == project_id)
    if flow_id:
        query = query.where(runs.c.flow_id == flow_id)
    if status:
        query = query.where(runs.c.status == status)
    if connection_id:
        uses = select(run_steps.c.run_id).where(run_steps.c.connection_id == connection_id)
        query = query.where(or_(runs.c.id.in_(uses), runs.c.failed_connection_id == connection_id))
    return RunRow.all_of(conn.execute(query.order_by(runs.c.id.desc()).limit(limit)))


CANDIDATES = 32
"""Projects looked at per claim, best first; claimers racing for one skip to the next."""


def claim_next(conn: Connection, worker: str, now: datetime) -> str | None:
    """Take the next queued run for ``worker``, fairly across projects; each run is claimed
    exactly once.

    Fair share rather than FIFO: the project with the fewest runs running goes first (the one
    waiting longest among equals), and its oldest queued run is taken. A project with a thousand
    runs queued and every worker busy with them waits behind another project's first run, and
    projects with backlogs take turns.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so workers on several hosts never wait on each
    other. SQLite: writers are serialised by ``BEGIN IMMEDIATE``. On both the status check in
    the UPDATE keeps the claim a compare-and-swap.
    """
    waiting = (
        select(runs.c.project_id, func.min(runs.c.created_at).label("since"))
        .where(runs.c.status == "queued")
        .group_by(runs.c.project_id)
        .subquery()
    )
    busy = (
        select(runs.c.project_id, func.count().label("running"))
        .where(runs.c.status == "running")
        .group_by(runs.c.project_id)
        .subquery()
    )
    projects = conn.execute(
        select(waiting.c.project_id)
        .select_from(waiting.outerjoin(busy, busy.c.project_id == waiting.c.project_id))
        .order_by(func.coalesce(busy.c.running, 0), waiting.c.since, waiting.c.project_id)
        .limit(CANDIDATES)
    ).scalars()
    for project_id in list(projects):
        oldest = (
            select(runs.c.id)
            .where(runs.c.project_id == project_id, runs.c.status == "queued")
            .order_by(runs.c.created_at, runs.c.id)
            .limit(1)
        )
        if conn.dialect.name == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)
        run_id = conn.execute(oldest).scalar()
        if run_id is None:
            continue  # other workers hold every queued run of that project
        result = conn.execute(
            update(runs)
            .where(runs.c.id == run_id, runs.c.status == "queued")
            .values(status="running", claimed_by=worker, started_at=now)
        )
        if result.rowcount == 1:
            return str(run_id)
    return None


def set_run(conn: Connection, run_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(runs).where(runs.c.id == run_id).values(**values))


def set_step(conn: Connection, run_id: str, step_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(run_steps)
        .where(run_steps.c.run_id == run_id, run_steps.c.step_id == step_id)
        .values(**values)
    )


def end_steps(conn: Connection, run_ids: Sequence[str]) -> None:
    """The steps of runs that ended failed: none reads as still to come (``domain.runs``)."""
    if not run_ids:
        return
    for before, after in ENDED_FAILED.items():
        conn.execute(
            update(run_steps)
            .where(run_steps.c.run_id.in_(run_ids), run_steps.c.status == before.value)
            .values(status=after.value)
        )


def fail_abandoned(conn: Connection, started_before: datetime, now: datetime) -> int:
    """Fail runs still ``running`` since before ``started_before`` (their worker is gone)."""
    lost = [
        str(run_id)
        for run_id in conn.execute(
            select(runs.c.id).where(runs.c.status == "running", runs.c.started_at < started_before)
        ).scalars()
    ]
    if not lost:
        return 0
    result = conn.execute(
        update(runs)
        .where(runs.c.id.in_(lost), runs.c.status == "running")
        .values(
            status="failed",
            error_code="worker_lost",
            error_message="the worker running it stopped before it finished; retry it",
            finished_at=now,
        )
    )
    end_steps(conn, lost)
    return int(result.rowcount)
