"""Claiming queued runs: fair across projects, not first in first out."""

from __future__ import annotations

from gatekey import ids
from gatekey.service import Actor, Service
from gatekey.store import runs as rows


def _queue(service: Service, project_id: str, count: int, status: str = "queued") -> None:
    """``count`` runs of a project, each queued a microsecond after the last."""
    with service.context.db.write() as conn:
        for _ in range(count):
            rows.insert(
                conn,
                {
                    "id": ids.new_id("run"),
                    "project_id": project_id,
                    "flow_id": "flow_x",
                    "flow_version": 1,
                    "status": status,
                    "trigger": "manual",
                    "input": {},
                    "created_at": service.context.now(),
                },
                [],
            )


def _claims(service: Service, count: int) -> list[str]:
    """Claim ``count`` runs (finishing none); return whose project each one was."""
    taken = []
    for n in range(count):
        with service.context.db.write() as conn:
            run_id = rows.claim_next(conn, f"w{n}", service.context.now())
            assert run_id is not None
            row = rows.by_id(conn, run_id)
            assert row is not None and row.status == "running"
            taken.append(row.project_id)
    return taken


def test_a_project_with_a_backlog_waits_behind_another_projects_first_run(
    service: Service, actor: Actor
) -> None:
    a, b = actor.project_id, service.system.create_project("b").id
    _queue(service, a, 1000)
    _queue(service, a, 2, status="running")  # every worker is busy with A
    _queue(service, b, 1)
    assert _claims(service, 1) == [b]


def test_projects_take_turns(service: Service, actor: Actor) -> None:
    a, b, c = (
        actor.project_id,
        service.system.create_project("b").id,
        service.system.create_project("c").id,
    )
    _queue(service, a, 1000)
    _queue(service, b, 3)
    _queue(service, c, 2)
    assert _claims(service, 9) == [a, b, c, a, b, c, a, b, a]
    assert _claims(service, 3) == [a, a, a]  # alone, A has every worker


def test_the_oldest_run_of_a_project_goes_first_and_none_twice(
    service: Service, actor: Actor
) -> None:
    _queue(service, actor.project_id, 5)
    with service.context.db.read() as conn:
        found = rows.page(
            conn, actor.project_id, flow_id=None, status="queued", connection_id=None, limit=10
        )
    oldest_first = [r.id for r in sorted(found, key=lambda r: (r.created_at, r.id))]
    taken = []
    with service.context.db.write() as conn:
        while run_id := rows.claim_next(conn, "w", service.context.now()):
            taken.append(run_id)
    assert taken == oldest_first


def test_a_run_its_worker_left_has_no_step_that_seems_still_to_come(
    service: Service, actor: Actor
) -> None:
    from datetime import timedelta

    run_id = ids.new_id("run")
    began = service.context.now() - timedelta(hours=1)
    steps = [
        {"run_id": run_id, "step_id": sid, "position": n, "status": status}
        for n, (sid, status) in enumerate([("a", "succeeded"), ("b", "running"), ("c", "pending")])
    ]
    with service.context.db.write() as conn:
        rows.insert(
            conn,
            {
                "id": run_id,
                "project_id": actor.project_id,
                "flow_id": "flow_x",
                "flow_version": 1,
                "status": "running",
                "trigger": "manual",
                "input": {},
                "created_at": began,
                "started_at": began,
            },
            steps,
        )
        lost = rows.fail_abandoned(conn, began + timedelta(minutes=1), service.context.now())
        found = [(s.step_id, s.status) for s in rows.steps_of(conn, run_id)]
    assert lost == 1
    assert found == [("a", "succeeded"), ("b", "failed"), ("c", "skipped")]
