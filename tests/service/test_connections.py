"""``service.connections``: create (checked at the provider), list, change, delete; bad input
changes nothing; another project's connection does not exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gatekey.errors import (
    CredentialsRejected,
    DuplicateName,
    GatekeyError,
    InvalidFields,
    InvalidId,
    InvalidInput,
    InvalidName,
    NotFound,
    PayloadTooLarge,
    UnknownApp,
)
from gatekey.service import Actor, Service
from gatekey.store.tables import audit_events, connections
from tests.fakes.providers import (
    GOOD_SENDGRID,
    GOOD_STRIPE,
    FakeProviders,
    sendgrid_connection,
)
from tests.fakes.rows import count


def test_create_validates_with_the_provider_and_masks(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = sendgrid_connection(service, actor)
    assert created.id.startswith("conn_")
    assert created.status == "active"
    assert created.is_default
    assert created.fields == {"api_key": "••••0001"}
    assert created.version == 1
    sent = providers.requests[-1]
    assert sent.url == "https://api.sendgrid.com/v3/scopes"
    assert sent.headers["authorization"] == f"Bearer {GOOD_SENDGRID}"


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
            {
                "app": "zendesk",
                "auth_kind": "custom",
                "name": "x",
                "fields": {"email": "a@b.test", "api_token": "t"},
            },
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
    assert count(service, connections) == 0


def test_duplicate_names_per_project(service: Service, actor: Actor, other_actor: Actor) -> None:
    sendgrid_connection(service, actor)
    with pytest.raises(DuplicateName):
        sendgrid_connection(service, actor, name="sendgrid - PRODUCTION ")
    assert sendgrid_connection(service, other_actor).name == "SendGrid - Production"
    assert count(service, connections) == 2


def test_first_connection_of_an_app_is_default_and_set_default_moves_it(
    service: Service, actor: Actor
) -> None:
    prod = sendgrid_connection(service, actor)
    staging = sendgrid_connection(service, actor, name="SendGrid - Staging")
    assert prod.is_default and not staging.is_default
    moved = service.connections.set_default(actor, staging.id)
    assert moved.is_default
    assert not service.connections.get(actor, prod.id).is_default
    third = sendgrid_connection(service, actor, name="SendGrid - Third", is_default=True)
    defaults = [c for c in service.connections.list(actor, app="sendgrid").items if c.is_default]
    assert [c.id for c in defaults] == [third.id]


def test_deleting_the_default_promotes_none_and_says_so(service: Service, actor: Actor) -> None:
    prod = sendgrid_connection(service, actor)
    staging = sendgrid_connection(service, actor, name="SendGrid - Staging")
    deleted = service.connections.delete(actor, prod.id)
    assert deleted.was_default
    assert "no SendGrid connection is the default now" in deleted.message
    assert not service.connections.get(actor, staging.id).is_default
    plain = service.connections.delete(actor, staging.id)
    assert not plain.was_default
    with pytest.raises(NotFound):
        service.connections.get(actor, staging.id)


def test_rename_keeps_the_id_and_bumps_version(service: Service, actor: Actor) -> None:
    created = sendgrid_connection(service, actor)
    renamed = service.connections.rename(actor, created.id, "SendGrid - Marketing")
    assert (renamed.id, renamed.name, renamed.version) == (created.id, "SendGrid - Marketing", 2)
    other = sendgrid_connection(service, actor, name="Other")
    with pytest.raises(DuplicateName):
        service.connections.rename(actor, other.id, "sendgrid - marketing")
    assert service.connections.get(actor, other.id).name == "Other"


def test_list_filters_and_paginates_in_a_stable_order(service: Service, actor: Actor) -> None:
    made = [sendgrid_connection(service, actor, name=f"SendGrid {i:02d}") for i in range(7)]
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


def test_replace_credentials_keeps_the_id(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = sendgrid_connection(service, actor)
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
    mine = sendgrid_connection(service, actor)
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


def test_refused_changes_are_audited_without_values(service: Service, actor: Actor) -> None:
    with pytest.raises(CredentialsRejected):
        service.connections.create(
            actor, app="sendgrid", name="Bad", fields={"api_key": "SG.wrong.CANARYaudit"}
        )
    sendgrid_connection(service, actor)
    with pytest.raises(DuplicateName):
        sendgrid_connection(service, actor)
    service.context.audit.flush()
    with service.context.db.read() as conn:
        rows = conn.execute(select(audit_events)).all()
    assert any(r.outcome == "refused" and r.detail == {"code": "duplicate_name"} for r in rows)
    assert "CANARY" not in str([r._asdict() for r in rows])


def test_verified_only_while_the_provider_has_accepted_what_is_stored(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    """Saved with the check: verified then; saved or replaced without it: not verified until
    a test passes; a refused test keeps when it last worked."""
    saved_at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    service.context.clock = lambda: saved_at
    checked = sendgrid_connection(service, actor)
    unchecked = sendgrid_connection(service, actor, name="Unchecked", validate=False)
    assert checked.verified_at == saved_at
    assert unchecked.verified_at is None and unchecked.status == "active"
    assert len(providers.requests) == 1, "the unchecked one never reached the provider"

    tested_at = saved_at + timedelta(hours=1)
    service.context.clock = lambda: tested_at
    assert service.connections.test(actor, unchecked.id).ok
    assert service.connections.get(actor, unchecked.id).verified_at == tested_at

    providers.accepted.add("SG.second.CANARYsecond00002")
    replaced = service.connections.replace_credentials(
        actor, checked.id, fields={"api_key": "SG.second.CANARYsecond00002"}, validate=False
    )
    assert replaced.verified_at is None
    rechecked = service.connections.replace_credentials(
        actor, checked.id, fields={"api_key": "SG.second.CANARYsecond00002"}
    )
    assert rechecked.verified_at == tested_at

    providers.accepted.clear()
    service.context.clock = lambda: tested_at + timedelta(hours=1)
    assert not service.connections.test(actor, unchecked.id).ok
    refused = service.connections.get(actor, unchecked.id)
    assert refused.status == "inactive" and refused.verified_at == tested_at
