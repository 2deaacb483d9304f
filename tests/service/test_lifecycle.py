"""An auth method the provider is retiring: connected with a warning until its sunset, refused
from then on with nothing stored; connections made before keep warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gatekey.errors import AuthMethodRetired, Hint
from gatekey.service import Actor, Service
from tests.fakes.apps import retiring
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders

EVE = datetime(2027, 4, 29, 23, 59, tzinfo=UTC)
SUNSET = datetime(2027, 4, 30, 0, 0, tzinfo=UTC)
MESSAGE = "Helpdesk API token connections stop working on 2027-04-30; connect with OAuth instead"


def _token(service: Service, actor: Actor, name: str = "Helpdesk") -> str:
    return service.connections.create(
        actor, app="helpdesk", name=name, auth_kind="api_key", fields={"api_key": GOOD_SENDGRID}
    ).id


@pytest.fixture
def helpdesk(service: Service, actor: Actor) -> Service:
    service.apps.add(actor, retiring())
    return service


def test_a_deprecated_method_connects_until_its_sunset_and_says_so(
    helpdesk: Service, actor: Actor
) -> None:
    helpdesk.context.clock = lambda: EVE
    made = helpdesk.connections.create(
        actor, app="helpdesk", name="Desk", auth_kind="api_key", fields={"api_key": GOOD_SENDGRID}
    )
    assert made.status == "active" and made.verified_at == EVE
    [warning] = made.warnings
    assert warning.code == "method_deprecated"
    assert warning.message == MESSAGE
    assert str(warning.sunset) == "2027-04-30" and warning.use_instead == "oauth2"
    assert warning.source == "https://docs.acme.test/oauth-migration"
    assert helpdesk.connections.get(actor, made.id).warnings == [warning]
    assert helpdesk.connections.list(actor).items[0].warnings == [warning]


def test_after_the_sunset_a_new_one_is_refused_and_nothing_is_stored(
    helpdesk: Service, actor: Actor, providers: FakeProviders
) -> None:
    helpdesk.context.clock = lambda: SUNSET
    with pytest.raises(AuthMethodRetired) as refused:
        _token(helpdesk, actor)
    assert refused.value.code == "auth_method_retired"
    assert refused.value.message == (
        "Helpdesk switched API token connections off on 2027-04-30: no new one can be made; "
        "connect with OAuth instead"
    )
    assert refused.value.hint == Hint("start_authorization", {"app": "helpdesk"})
    assert refused.value.details == {"app": "helpdesk", "use_instead": "oauth2"}
    assert helpdesk.connections.list(actor).items == []
    assert providers.requests == []  # refused before the provider was asked
    trail = helpdesk.connections.audit_trail(actor)
    [entry] = [e for e in trail if e.action == "connection.create"]
    assert (entry.outcome, entry.detail) == ("refused", {"code": "auth_method_retired"})


def test_a_connection_made_before_the_sunset_warns_that_it_stopped_working(
    helpdesk: Service, actor: Actor
) -> None:
    helpdesk.context.clock = lambda: EVE
    made = _token(helpdesk, actor)
    helpdesk.context.clock = lambda: SUNSET
    [warning] = helpdesk.connections.get(actor, made).warnings
    assert warning.message == (
        "Helpdesk API token connections stopped working on 2027-04-30; connect with OAuth instead"
    )


def test_a_method_retiring_without_a_date_warns_but_connects(
    service: Service, actor: Actor
) -> None:
    definition = retiring()
    token = definition["auth"][1]
    token["deprecated"] = {**token["deprecated"], "sunset": None, "use_instead": None}
    service.apps.add(actor, definition)
    service.context.clock = lambda: datetime(2031, 1, 1, tzinfo=UTC)
    [warning] = service.connections.get(actor, _token(service, actor)).warnings
    assert warning.message == "Helpdesk is retiring API token connections (since 2026-10-27)"
    assert warning.sunset is None and warning.use_instead is None


def test_an_app_that_retires_nothing_warns_of_nothing(service: Service, actor: Actor) -> None:
    made = service.connections.create(
        actor, app="sendgrid", name="Mail", fields={"api_key": GOOD_SENDGRID}
    )
    assert made.warnings == []


DAY = timedelta(days=1)
T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def _codes(service: Service, actor: Actor, cid: str) -> list[str]:
    return [w.code for w in service.connections.get(actor, cid).warnings]


def test_a_connection_unused_for_half_its_limit_warns_when_the_provider_deactivates_it(
    helpdesk: Service, actor: Actor
) -> None:
    helpdesk.context.clock = lambda: T0
    cid = _token(helpdesk, actor)
    helpdesk.context.clock = lambda: T0 + 15 * DAY
    assert _codes(helpdesk, actor, cid) == ["method_deprecated"]
    helpdesk.context.clock = lambda: T0 + 15 * DAY + timedelta(minutes=1)
    idle = helpdesk.connections.get(actor, cid).warnings[1]
    assert idle.code == "idle_expiry" and idle.at == T0 + 30 * DAY
    assert idle.message == (
        "unused since 2026-11-10; Helpdesk deactivates API token credentials unused for 30 days "
        "(on 2026-12-10)"
    )
    assert idle in helpdesk.connections.list(actor).items[0].warnings
    helpdesk.context.clock = lambda: T0 + 31 * DAY
    late = helpdesk.connections.get(actor, cid).warnings[1]
    assert late.message.endswith("unused for 30 days (it may have, on 2026-12-10)")
    helpdesk.credentials.resolve(actor, cid)  # an execution uses it
    helpdesk.context.audit.flush()
    assert _codes(helpdesk, actor, cid) == ["method_deprecated"]


def test_a_keep_alive_that_could_not_reach_the_provider_warns_until_a_use(
    helpdesk: Service, actor: Actor, providers: FakeProviders
) -> None:
    helpdesk.context.clock = lambda: T0
    cid = _token(helpdesk, actor)
    helpdesk.context.clock = lambda: T0 + 16 * DAY
    providers.unreachable = True
    assert helpdesk.system.keep_alive(actor.project_id, cid, window=timedelta(hours=1)) == (
        "unreachable"
    )
    idle = helpdesk.connections.get(actor, cid).warnings[1]
    assert idle.message == (
        "the keep-alive on 2026-11-26 could not reach Helpdesk; unused since 2026-11-10; "
        "Helpdesk deactivates API token credentials unused for 30 days (on 2026-12-10)"
    )
    providers.unreachable = False
    helpdesk.context.clock = lambda: T0 + 16 * DAY + timedelta(hours=2)
    assert helpdesk.connections.test(actor, cid).ok  # Test reaches it: a use, at the provider
    assert _codes(helpdesk, actor, cid) == ["method_deprecated"]


def test_an_inactive_connection_has_no_idle_warning(
    helpdesk: Service, actor: Actor, providers: FakeProviders
) -> None:
    helpdesk.context.clock = lambda: T0
    cid = _token(helpdesk, actor)
    providers.accepted.discard(GOOD_SENDGRID)
    assert not helpdesk.connections.test(actor, cid).ok
    helpdesk.context.clock = lambda: T0 + 20 * DAY
    assert _codes(helpdesk, actor, cid) == ["method_deprecated"]


def test_after_the_sunset_no_consent_starts_for_a_retired_oauth_method(
    service: Service, actor: Actor
) -> None:
    definition = retiring()
    oauth, token = definition["auth"]
    oauth["deprecated"] = dict(token.pop("deprecated"), use_instead="api_key")
    token.pop("idle_expiry_days")
    definition["auth"] = [token, oauth]
    service.apps.add(actor, definition)
    service.oauth_clients.register(actor, app="helpdesk", client_id="c-1", client_secret="s-1")
    service.context.clock = lambda: SUNSET
    with pytest.raises(AuthMethodRetired):
        service.authorizations.start(actor, app="helpdesk", name="Desk")
    service.context.clock = lambda: EVE
    assert service.authorizations.start(actor, app="helpdesk", name="Desk").authorize_url


def test_after_the_sunset_an_import_skips_a_retired_method(helpdesk: Service, actor: Actor) -> None:
    helpdesk.context.clock = lambda: SUNSET
    document = {
        "format": "gatekey-export/1",
        "encryption": None,
        "connections": [
            {
                "app": "helpdesk",
                "auth_kind": "api_key",
                "name": "Desk",
                "config": {},
                "secret": {"plaintext": {"api_key": GOOD_SENDGRID}},
            }
        ],
    }
    result = helpdesk.transfer.import_connections(actor, document)
    assert result.created == []
    assert [s["code"] for s in result.skipped] == ["auth_method_retired"]
