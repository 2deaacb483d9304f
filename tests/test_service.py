from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from gatekey.domain.connection import Role
from gatekey.errors import (
    ConnectionInactive,
    CredentialsRejected,
    DecryptionFailed,
    DuplicateName,
    GatekeyError,
    InvalidFields,
    InvalidId,
    InvalidInput,
    InvalidName,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
    UnknownApp,
)
from gatekey.runtime import Runtime
from gatekey.service import Actor, Service
from gatekey.store.tables import audit_events, connections
from tests.fakes.providers import (
    GOOD_SENDGRID,
    GOOD_STRIPE,
    GOOD_TWILIO_TOKEN,
    TWILIO_SID,
    FakeProviders,
)


def _count(service: Service) -> int:
    with service.context.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(connections)).scalar_one())


def _sendgrid(service: Service, actor: Actor, name: str = "SendGrid - Production", **extra: Any):  # type: ignore[no-untyped-def]
    return service.connections.create(
        actor, app="sendgrid", name=name, fields={"api_key": GOOD_SENDGRID}, **extra
    )


def test_create_validates_with_the_provider_and_masks(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = _sendgrid(service, actor)
    assert created.id.startswith("conn_")
    assert created.status == "active"
    assert created.is_default
    assert created.fields == {"api_key": "••••0001"}
    assert created.version == 1
    sent = providers.requests[-1]
    assert sent.url == "https://api.sendgrid.com/v3/scopes"
    assert sent.headers["authorization"] == f"Bearer {GOOD_SENDGRID}"


def test_account_label_comes_from_the_test_request(service: Service, actor: Actor) -> None:
    stripe = service.connections.create(
        actor, app="stripe", name="Stripe", fields={"api_key": GOOD_STRIPE}
    )
    twilio = service.connections.create(
        actor,
        app="twilio",
        name="Twilio",
        fields={"account_sid": TWILIO_SID, "auth_token": GOOD_TWILIO_TOKEN},
    )
    assert stripe.account_label == "billing@acme.test"
    assert twilio.account_label == "Acme Twilio"
    assert twilio.fields["account_sid"] == TWILIO_SID


def test_rejected_credentials_store_nothing(service: Service, actor: Actor) -> None:
    with pytest.raises(CredentialsRejected) as caught:
        service.connections.create(
            actor, app="sendgrid", name="Bad", fields={"api_key": "SG.wrong.CANARYwrong"}
        )
    assert caught.value.message == (
        "SendGrid rejected the credentials (HTTP 401): authorization required"
    )
    assert _count(service) == 0


def test_provider_message_is_scrubbed_of_the_secret(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    providers.accepted.clear()
    with pytest.raises(CredentialsRejected) as caught:
        service.connections.create(
            actor, app="stripe", name="Stripe", fields={"api_key": "sk_test_CANARYx"}
        )
    assert "CANARY" not in caught.value.message


@pytest.mark.parametrize("failure", ["outage", "unreachable"])
def test_unavailable_provider_is_not_invalid_credentials(
    service: Service, actor: Actor, providers: FakeProviders, failure: str
) -> None:
    setattr(providers, failure, True)
    with pytest.raises(ProviderUnavailable):
        _sendgrid(service, actor)
    assert _count(service) == 0


def test_skip_test_stores_without_asking(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    providers.unreachable = True
    created = _sendgrid(service, actor, validate=False)
    assert created.status == "active"
    assert providers.requests == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"app": "nope", "name": "x", "fields": {}}, UnknownApp),
        ({"app": "sendgrid", "name": "", "fields": {"api_key": GOOD_SENDGRID}}, InvalidName),
        ({"app": "sendgrid", "name": "x" * 201, "fields": {"api_key": GOOD_SENDGRID}}, InvalidName),
        ({"app": "sendgrid", "name": "x", "fields": {}}, InvalidFields),
        (
            {"app": "sendgrid", "name": "x", "fields": {"api_key": GOOD_SENDGRID, "more": 1}},
            InvalidFields,
        ),
        ({"app": "sendgrid", "name": "x", "fields": {"api_key": ["SG.a.b"]}}, InvalidFields),
        (
            {"app": "sendgrid", "name": "x", "fields": {"api_key": "SG." + "a" * 70000}},
            PayloadTooLarge,
        ),
        ({"app": "sendgrid", "name": "x", "fields": "SG.a.b"}, InvalidFields),
        (
            {
                "app": "sendgrid",
                "name": "x",
                "fields": {"api_key": GOOD_SENDGRID},
                "auth_kind": "oauth2",
            },
            InvalidInput,
        ),
        (
            {"app": "zendesk", "name": "x", "fields": {"email": "a@b.test", "api_token": "t"}},
            InvalidFields,
        ),
        (
            {
                "app": "sendgrid",
                "name": "x",
                "fields": {"api_key": GOOD_SENDGRID},
                "metadata": {"x": "y" * 20000},
            },
            PayloadTooLarge,
        ),
    ],
)
def test_bad_input_changes_nothing(
    service: Service, actor: Actor, kwargs: dict[str, Any], error: type[GatekeyError]
) -> None:
    with pytest.raises(error) as caught:
        service.connections.create(actor, **kwargs)
    assert caught.value.code == error.code
    assert _count(service) == 0


def test_duplicate_names_per_project(service: Service, actor: Actor, other_actor: Actor) -> None:
    _sendgrid(service, actor)
    with pytest.raises(DuplicateName):
        _sendgrid(service, actor, name="sendgrid - PRODUCTION ")
    assert _sendgrid(service, other_actor).name == "SendGrid - Production"
    assert _count(service) == 2


def test_first_connection_of_an_app_is_default_and_set_default_moves_it(
    service: Service, actor: Actor
) -> None:
    prod = _sendgrid(service, actor)
    staging = _sendgrid(service, actor, name="SendGrid - Staging")
    assert prod.is_default and not staging.is_default
    moved = service.connections.set_default(actor, staging.id)
    assert moved.is_default
    assert not service.connections.get(actor, prod.id).is_default
    third = _sendgrid(service, actor, name="SendGrid - Third", is_default=True)
    defaults = [c for c in service.connections.list(actor, app="sendgrid").items if c.is_default]
    assert [c.id for c in defaults] == [third.id]


def test_deleting_the_default_promotes_none_and_says_so(service: Service, actor: Actor) -> None:
    prod = _sendgrid(service, actor)
    staging = _sendgrid(service, actor, name="SendGrid - Staging")
    deleted = service.connections.delete(actor, prod.id)
    assert deleted.was_default
    assert "no SendGrid connection is the default now" in deleted.message
    assert not service.connections.get(actor, staging.id).is_default
    plain = service.connections.delete(actor, staging.id)
    assert not plain.was_default
    with pytest.raises(NotFound):
        service.connections.get(actor, staging.id)


def test_rename_keeps_the_id_and_bumps_version(service: Service, actor: Actor) -> None:
    created = _sendgrid(service, actor)
    renamed = service.connections.rename(actor, created.id, "SendGrid - Marketing")
    assert (renamed.id, renamed.name, renamed.version) == (created.id, "SendGrid - Marketing", 2)
    other = _sendgrid(service, actor, name="Other")
    with pytest.raises(DuplicateName):
        service.connections.rename(actor, other.id, "sendgrid - marketing")
    assert service.connections.get(actor, other.id).name == "Other"


def test_list_filters_and_paginates_in_a_stable_order(service: Service, actor: Actor) -> None:
    made = [_sendgrid(service, actor, name=f"SendGrid {i:02d}") for i in range(7)]
    service.connections.create(
        actor, app="stripe", name="Stripe Billing", fields={"api_key": GOOD_STRIPE}
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = service.connections.list(actor, app="sendgrid", limit=3, cursor=cursor)
        seen.extend(c.id for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [c.id for c in made]
    assert [c.name for c in service.connections.list(actor, text="billing").items] == [
        "Stripe Billing"
    ]
    assert [c.account_label for c in service.connections.list(actor, text="ACME.TEST").items] == [
        "billing@acme.test"
    ]
    assert service.connections.list(actor, text="100%_").items == []
    assert len(service.connections.list(actor, status="active").items) == 8
    assert service.connections.list(actor, status="inactive").items == []
    with pytest.raises(InvalidInput):
        service.connections.list(actor, status="broken")
    with pytest.raises(InvalidInput):
        service.connections.list(actor, cursor="garbage")


def test_resolve_returns_ready_to_apply_credentials(
    service: Service, actor: Actor, runtime: Runtime
) -> None:
    twilio = service.connections.create(
        actor,
        app="twilio",
        name="Twilio",
        fields={"account_sid": TWILIO_SID, "auth_token": GOOD_TWILIO_TOKEN},
    )
    creds = service.credentials.resolve(actor, twilio.id)
    assert creds.basic is not None
    assert (creds.basic.username, creds.basic.password) == (TWILIO_SID, GOOD_TWILIO_TOKEN)
    assert creds.base_url == "https://api.twilio.com"
    assert creds.fields["auth_token"] == GOOD_TWILIO_TOKEN
    assert GOOD_TWILIO_TOKEN not in repr(creds) + str(creds)
    runtime.service.context.audit.flush()
    after = service.connections.get(actor, twilio.id)
    assert after.last_used_at is not None
    trail = service.connections.audit_trail(actor, twilio.id)
    assert [e.action for e in trail][:2] == ["credentials.read", "connection.create"]
    assert trail[0].actor == actor.key_id


def test_inactive_connection_fails_resolution_naming_it(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = _sendgrid(service, actor)
    providers.accepted.clear()
    result = service.connections.test(actor, created.id)
    assert not result.ok
    broken = service.connections.get(actor, created.id)
    assert (broken.status, broken.status_reason) == ("inactive", "invalid_credentials")
    assert [c.id for c in service.connections.list(actor, status="inactive").items] == [created.id]
    with pytest.raises(ConnectionInactive) as caught:
        service.credentials.resolve(actor, created.id)
    assert "SendGrid - Production" in caught.value.message
    providers.accepted.add(GOOD_SENDGRID)
    assert service.connections.test(actor, created.id).ok
    assert service.connections.get(actor, created.id).status == "active"


def test_replace_credentials_keeps_the_id(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = _sendgrid(service, actor)
    providers.accepted.add("SG.second.CANARYsecond00002")
    replaced = service.connections.replace_credentials(
        actor, created.id, fields={"api_key": "SG.second.CANARYsecond00002"}
    )
    assert replaced.id == created.id
    assert replaced.fields == {"api_key": "••••0002"}
    creds = service.credentials.resolve(actor, created.id)
    assert creds.headers["Authorization"] == "Bearer SG.second.CANARYsecond00002"
    with pytest.raises(CredentialsRejected):
        service.connections.replace_credentials(actor, created.id, fields={"api_key": "SG.bad.bad"})
    assert service.credentials.resolve(actor, created.id).fields["api_key"].endswith("0002")


def test_malformed_ids_are_refused(service: Service, actor: Actor) -> None:
    for bad in ["", "conn_", "conn_../../etc", "x" * 500, "proj_01JD3W6ZK2Q8V5N0C7H9X4T1RB"]:
        with pytest.raises(InvalidId):
            service.connections.get(actor, bad)


def test_malformed_ids_are_refused_before_any_lookup(service: Service, actor: Actor) -> None:
    """The lookups that answered ``not_found`` for a malformed id (embedded SDK included)."""
    well_formed = "conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB"
    calls = [
        lambda i: service.authorizations.status(actor, i),
        lambda i: service.access.revoke_key(actor, i),
        lambda i: service.flows.usage(actor, i),
        lambda i: service.flows.replace_connection(actor, i, well_formed),
        lambda i: service.flows.replace_connection(actor, well_formed, i),
        lambda i: service.system.webhook_actor(i, "s" * 40),
    ]
    for call in calls:
        for bad in ["", "x", "oas_", "run_01JD3W6ZK2Q8V5N0C7H9X4T1RB"]:
            with pytest.raises(InvalidId):
                call(bad)


def test_another_projects_connection_does_not_exist(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    mine = _sendgrid(service, actor)
    missing = "conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB"
    calls = [
        lambda i: service.connections.get(other_actor, i),
        lambda i: service.connections.rename(other_actor, i, "stolen"),
        lambda i: service.connections.set_default(other_actor, i),
        lambda i: service.connections.delete(other_actor, i),
        lambda i: service.credentials.resolve(other_actor, i),
        lambda i: service.connections.test(other_actor, i),
        lambda i: service.connections.replace_credentials(
            other_actor, i, fields={"api_key": GOOD_SENDGRID}
        ),
        lambda i: service.connections.audit_trail(other_actor, i),
    ]
    for call in calls:
        with pytest.raises(NotFound) as theirs:
            call(mine.id)
        with pytest.raises(NotFound) as nothing:
            call(missing)
        assert theirs.value.message.replace(mine.id, "ID") == nothing.value.message.replace(
            missing, "ID"
        )
    assert service.connections.list(other_actor).items == []
    assert service.connections.get(actor, mine.id).name == "SendGrid - Production"


def test_runtime_role_reads_and_resolves_only(service: Service, actor: Actor) -> None:
    created = _sendgrid(service, actor)
    runtime_actor = Actor(actor.project_id, "key_runtime", Role.RUNTIME)
    assert service.connections.get(runtime_actor, created.id).id == created.id
    assert service.credentials.resolve(runtime_actor, created.id).connection_id == created.id
    assert service.apps.list(runtime_actor)
    denied = [
        lambda: _sendgrid(service, runtime_actor, name="x"),
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


def test_api_keys_authenticate_and_revoke(service: Service, actor: Actor) -> None:
    key = service.access.create_key(actor, name="worker", role="runtime")
    assert key.token not in repr(key)
    who = service.system.authenticate(key.token)
    assert (who.project_id, who.key_id, who.role) == (actor.project_id, key.id, Role.RUNTIME)
    listed = service.access.list_keys(actor)
    assert key.token not in str([k.model_dump() for k in listed])
    service.access.revoke_key(actor, key.id)
    from gatekey.errors import AuthenticationFailed

    for token in [key.token, "gk_unknown", "", None, "Bearer x"]:
        with pytest.raises(AuthenticationFailed) as caught:
            service.system.authenticate(token)
        assert caught.value.message == "missing, unknown, expired or revoked API key"


def test_expired_api_key_is_refused(service: Service, actor: Actor) -> None:
    from datetime import timedelta

    from gatekey.errors import AuthenticationFailed

    key = service.access.create_key(
        actor, name="short", role="admin", expires_in=timedelta(seconds=-1)
    )
    with pytest.raises(AuthenticationFailed):
        service.system.authenticate(key.token)


def test_tampered_or_moved_ciphertext_fails_clearly(service: Service, actor: Actor) -> None:
    first = _sendgrid(service, actor)
    second = _sendgrid(service, actor, name="Second")
    with service.context.db.write() as conn:
        row = conn.execute(
            select(connections.c.secret_ciphertext).where(connections.c.id == first.id)
        ).scalar_one()
        flipped = bytearray(row)
        flipped[20] ^= 0x01
        conn.execute(
            update(connections)
            .where(connections.c.id == first.id)
            .values(secret_ciphertext=bytes(flipped))
        )
    with pytest.raises(DecryptionFailed) as caught:
        service.credentials.resolve(actor, first.id)
    assert first.id in caught.value.message
    with service.context.db.write() as conn:
        source = conn.execute(
            select(connections.c.secret_ciphertext, connections.c.dek_wrapped).where(
                connections.c.id == second.id
            )
        ).one()
        conn.execute(
            update(connections)
            .where(connections.c.id == first.id)
            .values(secret_ciphertext=source.secret_ciphertext, dek_wrapped=source.dek_wrapped)
        )
    with pytest.raises(DecryptionFailed):
        service.credentials.resolve(actor, first.id)
    assert service.credentials.resolve(actor, second.id).fields["api_key"] == GOOD_SENDGRID


def test_refused_changes_are_audited_without_values(service: Service, actor: Actor) -> None:
    with pytest.raises(CredentialsRejected):
        service.connections.create(
            actor, app="sendgrid", name="Bad", fields={"api_key": "SG.wrong.CANARYaudit"}
        )
    _sendgrid(service, actor)
    with pytest.raises(DuplicateName):
        _sendgrid(service, actor)
    service.context.audit.flush()
    with service.context.db.read() as conn:
        rows = conn.execute(select(audit_events)).all()
    assert any(r.outcome == "refused" and r.detail == {"code": "duplicate_name"} for r in rows)
    assert "CANARY" not in str([r._asdict() for r in rows])


def test_config_alone_can_change_and_keeps_the_secret(service: Service, actor: Actor) -> None:
    created = service.connections.create(
        actor,
        app="zendesk",
        name="Zendesk",
        fields={"email": "ops@acme.test", "api_token": "CANARYzendesk1"},
        config={"subdomain": "acme"},
        validate=False,
    )
    moved = service.connections.update(
        actor, created.id, config={"subdomain": "acme-eu"}, validate=False
    )
    assert moved.config == {"subdomain": "acme-eu"}
    creds = service.credentials.resolve(actor, created.id)
    assert creds.base_url == "https://acme-eu.zendesk.com/api/v2"
    assert creds.fields["api_token"] == "CANARYzendesk1"
    with pytest.raises(InvalidFields):
        service.connections.update(actor, created.id, config={"subdomain": "a/b"}, validate=False)
    assert service.connections.get(actor, created.id).config == {"subdomain": "acme-eu"}
