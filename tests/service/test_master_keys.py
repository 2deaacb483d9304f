"""``service.master_keys``: rotation rewraps everything in committed batches, resumes after an
interruption, and retirement follows; start-up names a missing key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gatekey.errors import KeyInUse, MasterKeyMissing, NotFound
from gatekey.models import RotationProgress
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.providers import GOOD_SENDGRID
from tests.fakes.sandbox import Sandbox, connect, sandbox_project


def _make(service: Service, actor: Actor, count: int) -> list[str]:
    return [
        service.connections.create(
            actor, app="sendgrid", name=f"SG {i}", fields={"api_key": GOOD_SENDGRID}, validate=False
        ).id
        for i in range(count)
    ]


@pytest.fixture
def file_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"master_keys": None})


def test_rotate_rewraps_everything_and_retire_follows(file_settings: Settings) -> None:
    runtime = open_runtime(file_settings)
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    ids = _make(service, actor, 12)
    old = service.system.master_keys()[0].id
    with pytest.raises(KeyInUse):
        service.system.retire_master_key(old)
    seen: list[RotationProgress] = []
    result = service.system.rotate_master_key(batch_size=5, progress=seen.append)
    assert result.done == 12
    assert [p.done for p in seen] == [5, 10, 12]
    assert seen[-1].remaining == 0
    keys = {k.id: k for k in service.system.master_keys()}
    assert keys[result.key_id].primary and keys[result.key_id].data_keys == 12
    assert keys[old].data_keys == 0
    with pytest.raises(KeyInUse, match="primary"):
        service.system.retire_master_key(result.key_id)
    service.system.retire_master_key(old)
    with pytest.raises(NotFound):
        service.system.retire_master_key(old)
    for cid in ids:
        assert service.credentials.resolve(actor, cid).fields["api_key"] == GOOD_SENDGRID
    runtime.close()


def test_interrupted_rotation_resumes_without_adding_a_key(file_settings: Settings) -> None:
    runtime = open_runtime(file_settings)
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    _make(service, actor, 10)

    def crash(progress: RotationProgress) -> None:
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        service.system.rotate_master_key(batch_size=4, progress=crash)
    half = {k.id: k.data_keys for k in service.system.master_keys()}
    assert sorted(half.values()) == [4, 6]
    result = service.system.rotate_master_key(batch_size=4)
    assert result.done == 6
    assert len(service.system.master_keys()) == 2
    assert [k.data_keys for k in service.system.master_keys()] == [10, 0]
    runtime.close()


def test_reader_process_picks_up_a_key_another_process_added(file_settings: Settings) -> None:
    writer = open_runtime(file_settings)
    reader = open_runtime(file_settings)
    project, _ = writer.service.system.bootstrap()
    actor = Actor.operator(project.id)
    (cid,) = _make(writer.service, actor, 1)
    writer.service.system.rotate_master_key()
    assert reader.service.credentials.resolve(actor, cid).fields["api_key"] == GOOD_SENDGRID
    writer.close()
    reader.close()


def test_start_up_names_a_missing_master_key(file_settings: Settings) -> None:
    runtime = open_runtime(file_settings)
    project, _ = runtime.service.system.bootstrap()
    _make(runtime.service, Actor.operator(project.id), 1)
    with runtime.db.read() as conn:
        key_id = conn.execute(select(connections.c.kek_id)).scalar_one()
    runtime.close()
    file_settings.master_key_file.unlink()
    with pytest.raises(MasterKeyMissing) as caught:
        open_runtime(file_settings)
    assert key_id in caught.value.message


def test_rotation_rewraps_oauth_clients_sessions_and_tokens(
    file_settings: Settings, sandbox: Sandbox
) -> None:
    sandbox.control("reset")
    runtime = open_runtime(file_settings, extra_apps=[sandbox.app])
    service = runtime.service
    actor = sandbox_project(service)
    connection_id = connect(service, actor, sandbox)
    pending = service.authorizations.start(actor, app="sandbox", name="Pending")
    old = service.system.master_keys()[0].id

    result = service.system.rotate_master_key()

    assert result.done == 4  # the client, the connection, two sessions
    service.system.retire_master_key(old)
    fresh = service.credentials.resolve(actor, connection_id, stale_token="none")
    assert fresh.fields["access_token"]
    stale = fresh.fields["access_token"]
    assert service.credentials.resolve(actor, connection_id, stale_token=stale).fields
    outcome = service.system.complete_authorization(sandbox.consent(pending.authorize_url or ""))
    assert outcome.status == "succeeded"
    runtime.close()
