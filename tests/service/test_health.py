"""``service.health``: readiness. Ready when the database answers, every master key the stored
data needs is loaded and the audit writer runs; not ready, naming the check, when one fails;
an unreachable Redis only degrades (limits pass, credentials still flow). (``/readyz`` over
HTTP is ``tests/api/test_operability.py``.)"""

from __future__ import annotations

from sqlalchemy import update

from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.providers import FakeProviders, sendgrid_connection


def test_a_working_process_is_ready(service: Service, actor: Actor) -> None:
    sendgrid_connection(service, actor, validate=False)
    ready = service.system.readiness()
    assert ready.ready
    assert ready.checks == {"database": "ok", "master_keys": "ok", "audit_writer": "ok"}


def test_a_master_key_the_data_needs_and_this_process_lacks_is_not_ready(
    service: Service, actor: Actor
) -> None:
    made = sendgrid_connection(service, actor, validate=False)
    with service.context.db.write() as conn:  # as another replica, under a key it alone has
        conn.execute(
            update(connections).where(connections.c.id == made.id).values(kek_id="mk-elsewhere")
        )
    ready = service.system.readiness()
    assert not ready.ready
    assert ready.checks["master_keys"] == "failing (master_key_missing)"
    assert ready.checks["database"] == "ok" and ready.checks["audit_writer"] == "ok"
    assert "mk-elsewhere" not in str(ready.checks)


def test_a_stopped_audit_writer_is_not_ready(service: Service) -> None:
    service.context.audit.close()
    ready = service.system.readiness()
    assert not ready.ready
    assert ready.checks["audit_writer"] == "stopped"
    assert ready.checks["database"] == "ok" and ready.checks["master_keys"] == "ok"


def test_an_unreachable_redis_degrades_but_stays_ready(
    settings: Settings, providers: FakeProviders
) -> None:
    unreachable = settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:1/0", "redis_timeout": 0.05}
    )
    runtime = open_runtime(unreachable, transport=providers.transport(), migrate=False)
    try:
        service = runtime.service
        project, _ = service.system.bootstrap()
        operator = Actor.operator(project.id)
        made = sendgrid_connection(service, operator, validate=False)
        worker = service.system.authenticate(
            service.access.create_key(operator, name="worker", role="runtime").token
        )
        ready = service.system.readiness()
        assert ready.ready
        assert ready.checks["redis"] == "unreachable (limits pass)"
        assert service.credentials.resolve(worker, made.id).connection_id == made.id
    finally:
        runtime.close()
