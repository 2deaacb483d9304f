"""``service.oauth_clients``: the client id and secret a project registers per OAuth2 app. The
secret is sealed and never handed back; one client per app; bad input and refusals write
nothing; a change holds for the next authorization; a client in use is not deleted; only an
admin manages clients; another project's client is missing, a malformed id is ``invalid_id``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from gatekey.domain.roles import Role
from gatekey.errors import GatekeyError, PermissionDenied
from gatekey.service import Actor, Service
from gatekey.store.tables import oauth_clients
from tests.fakes.rows import count
from tests.fakes.sandbox import CLIENT_SECRET, Sandbox, connect

SECRET = "gh-secret-CANARY-0001"


def _github(service: Service, actor: Actor, **extra: Any) -> str:
    return service.oauth_clients.register(
        actor, app="github", client_id="gh-client", client_secret=SECRET, **extra
    ).id


def _stored(service: Service) -> list[tuple[Any, ...]]:
    with service.context.db.read() as conn:
        return [tuple(r) for r in conn.execute(select(oauth_clients)).all()]


def _authorize_query(service: Service, actor: Actor) -> dict[str, list[str]]:
    session = service.authorizations.start(actor, app="github")
    return parse_qs(urlsplit(session.authorize_url or "").query)


def test_the_secret_is_sealed_and_never_handed_back(service: Service, actor: Actor) -> None:
    client = service.oauth_clients.register(
        actor, app="github", client_id=" gh-client ", client_secret=SECRET, scopes=["repo"]
    )

    assert (client.app, client.client_id, client.scopes) == ("github", "gh-client", ["repo"])
    assert client.connections == 0 and client.id.startswith("oac_")
    shown = [
        client,
        service.oauth_clients.get(actor, client.id),
        *service.oauth_clients.list(actor),
    ]
    for record in shown:
        assert SECRET not in repr(record) + record.model_dump_json()
    assert SECRET.encode() not in b"".join(
        v if isinstance(v, bytes) else str(v).encode() for row in _stored(service) for v in row
    )
    (created,) = service.audit.events(actor, object_id=client.id)
    assert (created.action, created.detail) == ("oauth_client.create", {"app": "github"})


def test_one_client_per_app(service: Service, actor: Actor, other_actor: Actor) -> None:
    _github(service, actor)
    with pytest.raises(GatekeyError) as caught:
        _github(service, actor)
    assert caught.value.code == "conflict" and caught.value.details == {"app": "github"}
    assert count(service, oauth_clients) == 1
    _github(service, other_actor)  # another project has its own
    assert count(service, oauth_clients) == 2


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"app": "sendgrid"}, "invalid_input"),
        ({"app": "nothing-here"}, "unknown_app"),
        ({"client_id": ""}, "invalid_fields"),
        ({"client_id": "a" * 501}, "invalid_fields"),
        ({"client_secret": "   "}, "invalid_fields"),
        ({"client_secret": "line\nbreak"}, "invalid_fields"),
        ({"scopes": "repo"}, "invalid_fields"),
        ({"scopes": ["repo", ""]}, "invalid_fields"),
        ({"client_secret": "nul\x00"}, "invalid_input"),
    ],
)
def test_bad_input_registers_nothing(
    service: Service, actor: Actor, changes: dict[str, Any], code: str
) -> None:
    arguments: dict[str, Any] = {
        "app": "github",
        "client_id": "gh-client",
        "client_secret": SECRET,
        **changes,
    }
    with pytest.raises(GatekeyError) as caught:
        service.oauth_clients.register(actor, **arguments)
    assert caught.value.code == code
    assert SECRET not in caught.value.message + str(caught.value.details)
    assert count(service, oauth_clients) == 0


def test_a_change_holds_for_the_next_authorization(service: Service, actor: Actor) -> None:
    client_id = _github(service, actor, scopes=["repo"])
    assert _authorize_query(service, actor)["scope"] == ["repo"]

    changed = service.oauth_clients.update(
        actor, client_id, client_id="gh-client-2", scopes=["read:user", "repo"]
    )
    assert (changed.client_id, changed.scopes) == ("gh-client-2", ["read:user", "repo"])
    query = _authorize_query(service, actor)
    assert query["client_id"] == ["gh-client-2"] and query["scope"] == ["read:user repo"]
    cleared = service.oauth_clients.update(actor, client_id, clear_scopes=True)
    assert cleared.scopes is None
    default = service.internals.catalog.get("github").auth[0].oauth2
    assert default is not None
    assert _authorize_query(service, actor)["scope"] == [" ".join(default.default_scopes)]

    service.oauth_clients.update(actor, client_id, client_secret="gh-secret-CANARY-0002")
    updates = [
        e.detail["changed"]
        for e in service.audit.events(actor, object_id=client_id)
        if e.action == "oauth_client.update"
    ]
    assert updates == [["client_secret"], ["scopes"], ["client_id", "scopes"]]
    assert "CANARY" not in str([e.model_dump() for e in service.audit.events(actor)])


def test_a_new_secret_is_the_one_the_token_request_sends(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    (client,) = oauth_service.oauth_clients.list(oauth_actor)
    oauth_service.oauth_clients.update(oauth_actor, client.id, client_secret="not-the-secret")
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Refused")
    outcome = oauth_service.system.complete_authorization(
        sandbox.consent(session.authorize_url or "")
    )
    assert outcome.status == "failed" and outcome.connection_id is None
    assert outcome.error_code == "oauth_token_exchange_failed"
    assert "(invalid_client)" in (outcome.error_message or "")
    assert "not-the-secret" not in (outcome.error_message or "")
    oauth_service.oauth_clients.update(oauth_actor, client.id, client_secret=CLIENT_SECRET)
    assert connect(oauth_service, oauth_actor, sandbox).startswith("conn_")


def test_a_client_in_use_is_not_deleted(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    (client,) = oauth_service.oauth_clients.list(oauth_actor)
    assert client.connections == 1
    with pytest.raises(GatekeyError) as caught:
        oauth_service.oauth_clients.delete(oauth_actor, client.id)
    assert caught.value.code == "conflict" and caught.value.details == {"connections": 1}
    assert count(oauth_service, oauth_clients) == 1

    oauth_service.connections.delete(oauth_actor, connection_id)
    oauth_service.oauth_clients.delete(oauth_actor, client.id)
    assert count(oauth_service, oauth_clients) == 0
    with pytest.raises(GatekeyError) as gone:
        oauth_service.oauth_clients.get(oauth_actor, client.id)
    assert gone.value.code == "not_found"


def test_only_an_admin_manages_clients(service: Service, actor: Actor) -> None:
    client_id = _github(service, actor)
    worker = Actor(actor.project_id, "key_runtime", Role.RUNTIME)
    before = _stored(service)
    for call in (
        lambda: service.oauth_clients.register(
            worker, app="slack", client_id="sl", client_secret="sl-secret"
        ),
        lambda: service.oauth_clients.list(worker),
        lambda: service.oauth_clients.get(worker, client_id),
        lambda: service.oauth_clients.update(worker, client_id, client_id="mine"),
        lambda: service.oauth_clients.delete(worker, client_id),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert _stored(service) == before


def test_another_projects_client_is_missing_and_a_malformed_id_invalid(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    theirs = _github(service, other_actor)
    before = _stored(service)
    calls = [
        lambda i: service.oauth_clients.get(actor, i),
        lambda i: service.oauth_clients.update(actor, i, client_id="stolen"),
        lambda i: service.oauth_clients.delete(actor, i),
    ]
    for call in calls:
        with pytest.raises(GatekeyError) as caught:
            call(theirs)
        assert caught.value.code == "not_found"
        for bad in ["", "oac_", "oac_../../etc", "conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB"]:
            with pytest.raises(GatekeyError) as malformed:
                call(bad)
            assert malformed.value.code == "invalid_id"
    assert _stored(service) == before
    assert service.oauth_clients.list(actor) == []
