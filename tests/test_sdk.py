"""The one SDK surface: ``Client`` and ``Gatekey`` match ``gatekey.sdk.SDK`` and behave alike."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gatekey import Client, Gatekey, errors
from gatekey.catalog.schema import App
from gatekey.errors import MissingScopes, NotFound
from gatekey.models import AuthorizationSession
from gatekey.sdk import SDK, wait_for_authorization
from gatekey.settings import Settings
from tests.fakes.apps import NOTION_KEY, acme, notion_like, portal, retiring
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.sdks import KINDS, open_sdk

EMBEDDED_ONLY = {"run_queued"}  # no server runs the queue in embedded mode


def _surface() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(SDK).items()
        if inspect.isfunction(member) and member.__qualname__.startswith("SDK.")
    }


def _public(cls: type) -> set[str]:
    return {n for n, m in vars(cls).items() if inspect.isfunction(m) and not n.startswith("_")}


@pytest.mark.parametrize("cls", [Client, Gatekey], ids=["http", "embedded"])
def test_every_method_has_the_protocols_signature(cls: type) -> None:
    differing = {
        name: f"{inspect.signature(getattr(cls, name))} != {signature}"
        for name, signature in _surface().items()
        if inspect.signature(getattr(cls, name)) != signature
    }
    assert differing == {}


def test_no_public_method_stands_outside_the_protocol() -> None:
    surface = {n for n in _surface() if not n.startswith("_")}
    assert _public(Client) == surface
    assert _public(Gatekey) == surface | EMBEDDED_ONLY
    assert {"__enter__", "__exit__", "close"} <= set(_surface())


@pytest.mark.parametrize("cls", [SDK, Client, Gatekey], ids=["protocol", "http", "embedded"])
def test_every_public_method_says_what_it_does(cls: type) -> None:
    """What ``help()`` and an editor show: the method's own docstring, or the protocol's."""
    methods = [n for n in dir(cls) if not n.startswith("_") or n in ("__enter__", "__exit__")]
    undocumented = [
        name
        for name in methods
        if inspect.isfunction(getattr(cls, name)) and not inspect.getdoc(getattr(cls, name))
    ]
    assert undocumented == []
    assert inspect.getdoc(cls)


@pytest.fixture(params=KINDS)
def sdk(
    request: pytest.FixtureRequest, settings: Settings, providers: FakeProviders
) -> Iterator[SDK]:
    with open_sdk(request.param, settings, providers.transport()) as opened:
        yield opened


def test_skip_test_stores_without_asking_the_provider(sdk: SDK, providers: FakeProviders) -> None:
    made = sdk.create_connection(
        "sendgrid", "Unchecked", {"api_key": "SG.unchecked.value"}, skip_test=True
    )
    replaced = sdk.replace_credentials(made.id, {"api_key": "SG.second.value"}, skip_test=True)
    assert providers.requests == []
    assert replaced.status == "active"
    checked = sdk.create_connection("sendgrid", "Checked", {"api_key": GOOD_SENDGRID})
    assert len(providers.requests) == 1 and checked.status == "active"


def test_required_scopes_reach_the_resolver(sdk: SDK) -> None:
    made = sdk.create_connection("sendgrid", "Mail", {"api_key": GOOD_SENDGRID})
    assert sdk.resolve_credentials(made.id, required_scopes=[]).connection_id == made.id
    with pytest.raises(MissingScopes) as caught:
        sdk.resolve_credentials(made.id, required_scopes=["mail.send"])
    assert caught.value.details["missing"] == ["mail.send"]


def test_a_diagnosis_names_the_missing_scopes_on_both_sdks(sdk: SDK) -> None:
    made = sdk.create_connection("sendgrid", "Mail", {"api_key": GOOD_SENDGRID})
    fine = sdk.diagnose_connection(made.id)
    assert fine.ok and fine.status == "active" and fine.missing_scopes == []
    short = sdk.diagnose_connection(made.id, required_scopes=["mail.send", "marketing.read"])
    assert not short.ok and short.missing_scopes == ["mail.send", "marketing.read"]


def test_apps_come_back_as_catalog_entries(sdk: SDK) -> None:
    github = sdk.get_app("github")
    assert isinstance(github, App) and github.key == "github" and github.builtin
    definition: dict[str, Any] = {
        "key": "acme",
        "name": "Acme",
        "docs_url": "https://acme.example/docs",
        "base_url": "https://api.acme.example",
        "auth": [
            {
                "kind": "api_key",
                "fields": {
                    "type": "object",
                    "properties": {"api_key": {"title": "Key", "secret": True}},
                },
                "apply": [{"type": "bearer", "value": "{api_key}"}],
            }
        ],
    }
    added = sdk.add_app(definition)
    assert isinstance(added, App) and added.key == "acme" and not added.builtin
    renamed = sdk.replace_app("acme", {**definition, "name": "Acme Corp"})
    assert renamed.name == "Acme Corp" == sdk.get_app("acme").name


def test_both_sdks_filter_apps_alike(sdk: SDK) -> None:
    sdk.add_app(portal())
    assert {a.key for a in sdk.list_apps(category="support", auth_kind="oauth2")} >= {"portal"}
    assert "portal" not in {a.key for a in sdk.list_apps(category="support", auth_kind="basic")}
    assert [a.key for a in sdk.list_apps("regions and tenants", category="crm")] == ["portal"]
    with pytest.raises(errors.InvalidInput):
        sdk.list_apps(category="gardening")
    portal_app = sdk.get_app("portal")
    assert portal_app.method("api_key").deprecated is not None, "the prepare block is left out"


def test_the_audit_trail_without_a_connection_is_the_projects(sdk: SDK) -> None:
    first = sdk.create_connection("sendgrid", "One", {"api_key": GOOD_SENDGRID}, skip_test=True)
    sdk.create_connection("sendgrid", "Two", {"api_key": GOOD_SENDGRID}, skip_test=True)
    assert [e.action for e in sdk.audit_trail(first.id)] == ["connection.create"]
    project = sdk.audit_trail(limit=500)
    assert [e.action for e in project].count("connection.create") == 2
    assert len(sdk.audit_trail(limit=1)) == 1


def test_revoking_an_api_key_stamps_it_once(sdk: SDK) -> None:
    key = sdk.create_api_key("worker")
    sdk.revoke_api_key(key.id)
    assert next(k for k in sdk.list_api_keys() if k.id == key.id).revoked_at is not None
    with pytest.raises(NotFound):
        sdk.revoke_api_key(key.id)


def test_none_scopes_restore_an_oauth_clients_defaults(sdk: SDK) -> None:
    client = sdk.register_oauth_client("github", "cid", "CANARYclientsecret", scopes=["repo"])
    assert client.scopes == ["repo"]
    assert sdk.update_oauth_client(client.id, scopes=None).scopes is None


def test_authorization_takes_metadata_and_the_default_flag(sdk: SDK) -> None:
    sdk.register_oauth_client("github", "cid", "CANARYclientsecret")
    session = sdk.start_authorization(
        "github", name="GitHub - CI", metadata={"team": "ci"}, is_default=True
    )
    assert session.status == "pending" and session.authorize_url
    assert sdk.authorization_status(session.id).id == session.id


def _session(status: str) -> AuthorizationSession:
    now = datetime.now(UTC)
    return AuthorizationSession(
        id="oas_1",
        app="github",
        status=status,
        expires_at=now + timedelta(minutes=5),
        created_at=now,
    )


def test_waiting_polls_until_the_session_settles_or_time_runs_out() -> None:
    answers = iter(["pending", "pending", "succeeded"])
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    settled = wait_for_authorization(
        lambda _: _session(next(answers)),
        "oas_1",
        timeout=10,
        interval=2,
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert settled.status == "succeeded" and slept == [2, 2]
    late = wait_for_authorization(
        lambda _: _session("pending"),
        "oas_1",
        timeout=3,
        interval=2,
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert late.status == "pending" and now[0] >= 7


def test_an_errors_next_step_reaches_both_sdks_alike(sdk: SDK) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        sdk.create_connection("github", "GH", {"token": "x"}, skip_test=True)
    assert caught.value.hint == errors.Hint("start_authorization", {"app": "github"})


def test_allowing_an_account_switch_reaches_the_service_from_both_sdks(sdk: SDK) -> None:
    """Only a reconnect may switch accounts: a new connection asking to is refused, so the
    flag is seen to arrive (the switch itself: tests/service/test_oauth_callback.py)."""
    sdk.register_oauth_client("github", "cid", "CANARYclientsecret")
    with pytest.raises(errors.InvalidInput) as refused:
        sdk.start_authorization("github", name="GitHub - CI", allow_account_switch=True)
    assert "allow_account_switch" in refused.value.message
    assert not sdk.start_authorization("github", name="GitHub - CI").allow_account_switch


def test_credentials_say_how_to_read_answers(sdk: SDK) -> None:
    """For a caller that sends its own requests: the same rules the proxy follows."""
    definition = acme(key="acme-slack")
    definition["auth"][0]["responses"] = {"ok_when": {"path": "ok", "equals": True}}
    definition["auth"][0]["test_request"]["error_message"] = ["error"]
    sdk.add_app(definition)
    keyed = sdk.create_connection("acme-slack", "A", {"api_key": "k-1"}, skip_test=True)
    rules = sdk.resolve_credentials(keyed.id)
    assert rules.ok_when is not None and rules.error_paths == ["error"]
    assert not rules.ok_when.holds({"ok": False, "error": "invalid_auth"})
    assert rules.ok_when.holds({"ok": True})
    assert rules.expired_when is None, "a key is never refreshed"


def test_credentials_say_which_headers_a_caller_may_replace(
    sdk: SDK, providers: FakeProviders
) -> None:
    providers.accepted.add(NOTION_KEY)
    sdk.add_app(notion_like())
    made = sdk.create_connection("notion-test", "Notion", {"api_key": NOTION_KEY})
    creds = sdk.resolve_credentials(made.id)
    assert creds.overridable_headers == ["Notion-Version"]
    assert creds.headers["Notion-Version"] == "2022-06-28"
    assert creds.headers["Authorization"] == f"Bearer {NOTION_KEY}"


def test_a_connections_warnings_reach_both_sdks(sdk: SDK) -> None:
    sdk.add_app(retiring(sunset="2099-04-30"))  # the SDKs run on the real clock
    made = sdk.create_connection(
        "helpdesk", "Desk", {"api_key": GOOD_SENDGRID}, auth_kind="api_key"
    )
    [warning] = sdk.get_connection(made.id).warnings
    assert warning == made.warnings[0]
    assert (warning.code, warning.use_instead) == ("method_deprecated", "oauth2")
    assert warning.message.startswith("Helpdesk API token connections stop working on 2099-04-30")
