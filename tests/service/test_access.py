"""``service.access``: a project's API keys. The token is shown once and stored only as its
hash; only an admin creates, lists or revokes keys, and only the key roles (admin, runtime)
exist; another project's key is missing, a malformed id is refused before any lookup."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from gatekey.domain.roles import Role
from gatekey.errors import AuthenticationFailed, GatekeyError, PermissionDenied
from gatekey.service import Actor, Service
from gatekey.store.tables import api_keys, audit_events
from tests.fakes.rows import count


def _stored(service: Service) -> list[dict[str, object]]:
    with service.context.db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(api_keys)).all()]


def test_the_token_is_shown_once_and_stored_as_its_hash(service: Service, actor: Actor) -> None:
    key = service.access.create_key(actor, name="  worker  ", role="runtime")

    assert key.token.startswith("gk_") and key.hint == key.token[-4:]
    assert (key.name, key.role, key.project_id) == ("worker", Role.RUNTIME, actor.project_id)
    assert key.expires_at is None and key.revoked_at is None
    assert key.token not in repr(key) + str(key)
    listed = service.access.list_keys(actor)
    assert key.id in [k.id for k in listed]
    assert key.token not in str([k.model_dump() for k in listed]) + repr(listed)
    (row,) = [r for r in _stored(service) if r["id"] == key.id]
    assert row["token_hash"] == hashlib.sha256(key.token.encode()).hexdigest()
    assert key.token not in str(_stored(service))
    service.context.audit.flush()
    with service.context.db.read() as conn:
        trail = [r._asdict() for r in conn.execute(select(audit_events)).all()]
    assert key.token not in str(trail)
    (created,) = service.audit.events(actor, object_id=key.id)
    assert (created.action, created.detail) == ("api_key.create", {"role": "runtime"})


def test_a_key_expires_after_its_lifetime(service: Service, actor: Actor) -> None:
    key = service.access.create_key(
        actor, name="short", role="admin", expires_in=timedelta(hours=1)
    )
    assert key.expires_at == key.created_at + timedelta(hours=1)
    assert service.system.authenticate(key.token).key_id == key.id
    real = service.context.clock
    service.context.clock = lambda: real() + timedelta(hours=1, seconds=1)
    with pytest.raises(AuthenticationFailed):
        service.system.authenticate(key.token)


@pytest.mark.parametrize(
    ("name", "role", "code"),
    [
        ("x", "owner", "invalid_input"),
        ("x", "", "invalid_input"),
        ("", "admin", "invalid_name"),
        ("x" * 101, "admin", "invalid_name"),
        ("line\nbreak", "admin", "invalid_name"),
        ("nul\x00", "admin", "invalid_input"),
    ],
)
def test_bad_input_writes_no_key(
    service: Service, actor: Actor, name: str, role: str, code: str
) -> None:
    before = count(service, api_keys)
    with pytest.raises(GatekeyError) as caught:
        service.access.create_key(actor, name=name, role=role)
    assert caught.value.code == code
    assert count(service, api_keys) == before


@pytest.mark.parametrize("role", ["flow_webhook", "run", "operator"])
def test_roles_inside_gatekey_are_not_key_roles(service: Service, actor: Actor, role: str) -> None:
    with pytest.raises(GatekeyError) as caught:
        service.access.create_key(actor, name="x", role=role)
    assert caught.value.code == "invalid_input"


def test_a_runtime_key_manages_no_keys(service: Service, actor: Actor) -> None:
    kept = service.access.create_key(actor, name="kept", role="admin")
    worker = service.system.authenticate(
        service.access.create_key(actor, name="worker", role="runtime").token
    )
    before = _stored(service)
    for call in (
        lambda: service.access.create_key(worker, name="mine", role="admin"),
        lambda: service.access.list_keys(worker),
        lambda: service.access.revoke_key(worker, kept.id),
    ):
        with pytest.raises(PermissionDenied) as caught:
            call()
        assert caught.value.code == "forbidden"
        assert "an admin key is needed" in caught.value.message
    assert _stored(service) == before
    assert service.system.authenticate(kept.token).key_id == kept.id


def test_revoking_ends_the_key_at_once_and_once(service: Service, actor: Actor) -> None:
    key = service.access.create_key(actor, name="worker", role="runtime")
    assert service.system.authenticate(key.token).key_id == key.id  # now cached
    service.access.revoke_key(actor, key.id)

    with pytest.raises(AuthenticationFailed):
        service.system.authenticate(key.token)
    (listed,) = [k for k in service.access.list_keys(actor) if k.id == key.id]
    assert listed.revoked_at is not None
    with pytest.raises(GatekeyError) as again:
        service.access.revoke_key(actor, key.id)
    assert again.value.code == "not_found"
    actions = [e.action for e in service.audit.events(actor, object_id=key.id)]
    assert actions == ["api_key.revoke", "api_key.create"]


def test_another_projects_keys_are_not_seen_nor_revoked(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    theirs = service.access.create_key(other_actor, name="theirs", role="admin")
    mine = service.access.create_key(actor, name="mine", role="admin")

    assert theirs.id not in [k.id for k in service.access.list_keys(actor)]
    assert [k.id for k in service.access.list_keys(other_actor)] == [theirs.id]
    with pytest.raises(GatekeyError) as caught:
        service.access.revoke_key(actor, theirs.id)
    assert caught.value.code == "not_found"
    assert service.system.authenticate(theirs.token).project_id == other_actor.project_id
    assert mine.id in [k.id for k in service.access.list_keys(actor)]


@pytest.mark.parametrize(
    "bad", ["", "key_", "key_../../etc", "conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB", "k" * 500]
)
def test_a_malformed_key_id_is_refused_before_any_lookup(
    service: Service, actor: Actor, bad: str
) -> None:
    with pytest.raises(GatekeyError) as caught:
        service.access.revoke_key(actor, bad)
    assert caught.value.code == "invalid_id"
