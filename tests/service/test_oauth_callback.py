"""``service.oauth_callback``: the provider's redirect, against the sandbox: connect, reconnect,
and every refusal; RFC 9207 on the callback: ``iss`` checked first, exactly, against the declared
issuer (the sandbox) or the one the server's metadata names (panva's oidc-provider), never a
guessed origin, and required unless the app says its provider may leave it out (Xero) and no
metadata says otherwise. Apps shaped like real providers run on ``tests/fakes/oauth_apis``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gatekey.catalog.schema import App
from gatekey.errors import InvalidInput, StateInvalid
from gatekey.runtime import Runtime, open_runtime
from gatekey.server import create_app
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.oauth_apis import CLIENT_ID as FAKE_CLIENT_ID
from tests.fakes.oauth_apis import CLIENT_SECRET as FAKE_CLIENT_SECRET
from tests.fakes.oauth_apis import LOGIN, FakeOAuthApi, oauth_app
from tests.fakes.oidc_server import CLIENT_ID, CLIENT_SECRET, OidcServer, running_oidc_server
from tests.fakes.races import miss_next_name_check
from tests.fakes.sandbox import Sandbox, connect, sandbox_project


def _count(service: Service, actor: Actor) -> int:
    return len(service.connections.list(actor).items)


def test_connect_stores_tokens_and_learns_the_account(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Sandbox - Ada")
    assert session.status == "pending"
    assert session.expires_at - session.created_at == timedelta(minutes=10)
    url = session.authorize_url or ""
    assert "code_challenge_method=S256" in url and "code_challenge=" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8040%2Foauth%2Fcallback" in url

    outcome = oauth_service.system.complete_authorization(sandbox.consent(url))

    assert outcome.status == "succeeded"
    assert oauth_service.authorizations.status(oauth_actor, session.id).status == "succeeded"
    connection = oauth_service.connections.get(oauth_actor, outcome.connection_id or "")
    assert connection.status == "active"
    assert connection.auth_kind == "oauth2"
    assert connection.account_label == "ada@example.com"
    assert connection.scopes == ["profile", "tasks.read"]
    assert connection.expires_at is not None
    assert connection.oauth_client_id is not None
    credentials = oauth_service.credentials.resolve(oauth_actor, connection.id)
    assert set(credentials.fields) == {"access_token", "token_type"}
    assert credentials.headers["Authorization"] == "Bearer " + credentials.fields["access_token"]
    assert credentials.token_type == "Bearer"
    assert credentials.expired_token_status == [401]
    dumped = credentials.model_dump_json() + connection.model_dump_json()
    assert "sbx_rt_" not in dumped and "CANARY" not in dumped


def test_reconnect_keeps_the_id_name_and_client(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    before = oauth_service.connections.get(oauth_actor, connection_id)

    session = oauth_service.authorizations.start(oauth_actor, connection_id=connection_id)
    assert not session.allow_account_switch
    outcome = oauth_service.system.complete_authorization(
        sandbox.consent(session.authorize_url or "", user="ADA@example.com ")
    )

    assert outcome.status == "succeeded" and outcome.connection_id == connection_id
    after = oauth_service.connections.get(oauth_actor, connection_id)
    assert after.name == before.name
    assert after.oauth_client_id == before.oauth_client_id
    assert after.account_label == "ADA@example.com", "the same account, however it is spelled"
    assert after.version > before.version
    assert _count(oauth_service, oauth_actor) == 1


def test_a_reconnect_as_another_account_is_refused_and_changes_nothing(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    before = oauth_service.connections.get(oauth_actor, connection_id)
    token = oauth_service.credentials.resolve(oauth_actor, connection_id).fields["access_token"]

    session = oauth_service.authorizations.start(oauth_actor, connection_id=connection_id)
    outcome = oauth_service.system.complete_authorization(
        sandbox.consent(session.authorize_url or "", user="grace@example.com")
    )

    assert outcome.status == "failed" and outcome.error_code == "account_mismatch"
    assert outcome.error_message == (
        "Sandbox signed in as grace@example.com, but 'Sandbox - Ada' is connected as "
        "ada@example.com; nothing was changed: sign in as ada@example.com, or reconnect "
        "allowing an account switch"
    )
    after = oauth_service.connections.get(oauth_actor, connection_id)
    used = {"last_used_at"}  # the resolution above is recorded in the background
    assert after.model_dump(exclude=used) == before.model_dump(exclude=used)
    kept = oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert kept.fields["access_token"] == token, "the old grant is still the one handed out"
    actions = [e.action for e in oauth_service.connections.audit_trail(oauth_actor, connection_id)]
    assert "connection.reconnect" not in actions and "connection.account_switch" not in actions


def test_a_reconnect_allowed_to_switch_accounts_switches_and_is_audited(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    with pytest.raises(InvalidInput, match="connection_id"):
        oauth_service.authorizations.start(
            oauth_actor, app="sandbox", name="New", allow_account_switch=True
        )

    session = oauth_service.authorizations.start(
        oauth_actor, connection_id=connection_id, allow_account_switch=True
    )
    assert session.allow_account_switch
    outcome = oauth_service.system.complete_authorization(
        sandbox.consent(session.authorize_url or "", user="grace@example.com")
    )

    assert outcome.status == "succeeded", outcome.error_message
    after = oauth_service.connections.get(oauth_actor, connection_id)
    assert after.account_label == "grace@example.com" and after.status == "active"
    trail = oauth_service.connections.audit_trail(oauth_actor, connection_id)
    switch = next(e for e in trail if e.action == "connection.account_switch")
    assert switch.detail == {
        "session": session.id,
        "previous": "ada@example.com",
        "account": "grace@example.com",
    }


def test_denied_consent_fails_plainly_and_stores_nothing(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Denied")
    outcome = oauth_service.system.complete_authorization(
        sandbox.consent(session.authorize_url or "", approve=False)
    )
    assert outcome.status == "failed"
    assert outcome.error_code == "oauth_access_denied"
    assert "denied" in (outcome.error_message or "")
    assert _count(oauth_service, oauth_actor) == 0


def test_replayed_state_is_refused_once_used(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Once")
    params = sandbox.consent(session.authorize_url or "")
    assert oauth_service.system.complete_authorization(params).status == "succeeded"
    with pytest.raises(StateInvalid, match="used already"):
        oauth_service.system.complete_authorization(params)
    assert _count(oauth_service, oauth_actor) == 1


@pytest.mark.parametrize("state", ["", "forged-state-value", "x" * 600])
def test_forged_state_is_refused(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox, state: str
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Forged")
    params = sandbox.consent(session.authorize_url or "")
    with pytest.raises(StateInvalid):
        oauth_service.system.complete_authorization({**params, "state": state})
    assert _count(oauth_service, oauth_actor) == 0
    assert oauth_service.authorizations.status(oauth_actor, session.id).status == "pending"


def test_expired_session_stores_nothing(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Late")
    params = sandbox.consent(session.authorize_url or "")
    real = oauth_service.context.clock
    oauth_service.context.clock = lambda: real() + timedelta(minutes=11)
    outcome = oauth_service.system.complete_authorization(params)
    assert outcome.status == "failed" and outcome.error_code == "oauth_session_expired"
    assert _count(oauth_service, oauth_actor) == 0


def test_code_of_another_session_fails_pkce(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    first = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="First")
    second = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Second")
    first_params = sandbox.consent(first.authorize_url or "")
    second_params = sandbox.consent(second.authorize_url or "")
    mixed = {**first_params, "code": second_params["code"]}
    outcome = oauth_service.system.complete_authorization(mixed)
    assert outcome.status == "failed"
    assert outcome.error_code == "oauth_token_exchange_failed"
    assert "PKCE" in (outcome.error_message or "")
    assert _count(oauth_service, oauth_actor) == 0


def test_issuer_mismatch_is_refused(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Mixup")
    params = sandbox.consent(session.authorize_url or "")
    assert params["iss"] == sandbox.url
    before = sandbox.token_requests()
    outcome = oauth_service.system.complete_authorization(
        {**params, "iss": "https://attacker.example"}
    )
    assert outcome.error_code == "oauth_issuer_mismatch"
    assert sandbox.token_requests() == before, "the code must not be sent anywhere"
    assert _count(oauth_service, oauth_actor) == 0


def test_name_taken_while_consenting_fails_the_session(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Race")
    params = sandbox.consent(session.authorize_url or "")
    connect(oauth_service, oauth_actor, sandbox, name="Race")
    outcome = oauth_service.system.complete_authorization(params)
    assert outcome.error_code == "duplicate_name"
    assert _count(oauth_service, oauth_actor) == 1


def test_name_taken_between_the_check_and_the_insert_fails_the_session_alike(
    oauth_service: Service,
    oauth_actor: Actor,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unique index refusing the insert is the same ``duplicate_name``, not a failure
    "on our side"."""
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Race")
    params = sandbox.consent(session.authorize_url or "")
    connect(oauth_service, oauth_actor, sandbox, name="Race")
    miss_next_name_check(monkeypatch)
    outcome = oauth_service.system.complete_authorization(params)
    assert (outcome.status, outcome.error_code) == ("failed", "duplicate_name")
    assert outcome.error_message == "a connection named 'Race' already exists"
    assert _count(oauth_service, oauth_actor) == 1


# -- the issuer of the redirect (RFC 9207) ----------------------------------------
ATTACKER = "https://attacker.example"
PLANTED = "CANARY-attacker-planted-text"


def _start(service: Service, actor: Actor, app: str = "sandbox") -> str:
    session = service.authorizations.start(actor, app=app, name=f"{app} account")
    assert session.authorize_url is not None
    return session.authorize_url


def _nothing_stored(service: Service, actor: Actor) -> None:
    assert service.connections.list(actor).items == []


def test_the_right_iss_is_accepted(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    params = sandbox.consent(_start(oauth_service, oauth_actor))
    assert params["iss"] == sandbox.url
    assert oauth_service.system.complete_authorization(params).status == "succeeded"


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda iss: None, id="missing"),
        pytest.param(lambda iss: iss + "/", id="trailing-slash"),
        pytest.param(lambda iss: iss.replace("http://", "HTTP://"), id="other-case"),
        pytest.param(lambda iss: "", id="empty"),
        pytest.param(lambda iss: ATTACKER, id="another-server"),
    ],
)
def test_an_iss_that_is_not_the_declared_issuer_is_refused(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox, forged: Any
) -> None:
    params = sandbox.consent(_start(oauth_service, oauth_actor))
    iss = forged(params.pop("iss"))
    if iss is not None:
        params["iss"] = iss
    before = sandbox.token_requests()
    outcome = oauth_service.system.complete_authorization(params)
    assert (outcome.status, outcome.error_code) == ("failed", "oauth_issuer_mismatch")
    assert sandbox.token_requests() == before, "the code went nowhere"
    _nothing_stored(oauth_service, oauth_actor)


def test_an_error_with_a_wrong_iss_shows_only_the_issuer_error(
    oauth_runtime: Runtime, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    service = oauth_runtime.service
    params = sandbox.consent(_start(service, oauth_actor), approve=False)
    assert params["error"] == "access_denied"
    forged = {**params, "iss": ATTACKER, "error": "server_error", "error_description": PLANTED}
    with TestClient(create_app(oauth_runtime)) as client:
        page = client.get("/oauth/callback", params=forged)
    assert page.status_code == 400
    assert "oauth_issuer_mismatch" in page.text
    assert PLANTED not in page.text and "server_error" not in page.text
    assert ATTACKER not in page.text
    _nothing_stored(service, oauth_actor)


def test_an_error_with_the_right_iss_is_shown(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    params = sandbox.consent(_start(oauth_service, oauth_actor), approve=False)
    outcome = oauth_service.system.complete_authorization(params)
    assert outcome.error_code == "oauth_access_denied"


def test_an_app_without_issuer_or_metadata_takes_a_callback_without_iss(
    settings: Settings, sandbox: Sandbox
) -> None:
    """Servers that do not support RFC 9207 keep working: nothing says they send ``iss``."""
    quiet = _without_issuer(sandbox.app)
    runtime = open_runtime(settings, extra_apps=[quiet])
    try:
        actor = sandbox_project(runtime.service)
        params = sandbox.consent(_start(runtime.service, actor))
        del params["iss"]
        assert runtime.service.system.complete_authorization(params).status == "succeeded"
    finally:
        runtime.close()


def _without_issuer(app: App) -> App:
    data = app.model_dump(mode="json", exclude_none=True)
    for method in data["auth"]:
        if "oauth2" in method:
            method["oauth2"].pop("issuer", None)
    return App.model_validate(data)


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcServer]:
    with running_oidc_server(Settings().callback_url) as server:
        yield server


@pytest.fixture
def oidc_service(settings: Settings, oidc: OidcServer) -> Iterator[tuple[Service, Actor]]:
    runtime = open_runtime(settings, extra_apps=[oidc.app()])
    try:
        project, _ = runtime.service.system.bootstrap()
        actor = Actor.operator(project.id)
        runtime.service.oauth_clients.register(
            actor, app="oidc-test", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        )
        yield runtime.service, actor
    finally:
        runtime.close()


def test_a_server_advertising_iss_is_connected_with_its_iss(
    oidc_service: tuple[Service, Actor], oidc: OidcServer
) -> None:
    service, actor = oidc_service
    params = oidc.consent(_start(service, actor, "oidc-test"))
    assert params["iss"] == oidc.issuer
    outcome = service.system.complete_authorization(params)
    assert outcome.status == "succeeded", outcome.error_message
    assert service.credentials.resolve(actor, outcome.connection_id or "").fields["access_token"]


@pytest.mark.parametrize("forged", ["missing", "trailing-slash"])
def test_a_server_advertising_iss_is_refused_without_it(
    oidc_service: tuple[Service, Actor], oidc: OidcServer, forged: str
) -> None:
    """The app declares no issuer: the metadata's flag alone makes ``iss`` required."""
    service, actor = oidc_service
    params = oidc.consent(_start(service, actor, "oidc-test"))
    iss = params.pop("iss")
    if forged == "trailing-slash":
        params["iss"] = iss + "/"
    outcome = service.system.complete_authorization(params)
    assert (outcome.status, outcome.error_code) == ("failed", "oauth_issuer_mismatch")
    assert oidc.issuer in (outcome.error_message or "")
    _nothing_stored(service, actor)


def test_the_token_exchange_verifies_the_connection_and_a_reconnect_again(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    connected = oauth_service.connections.get(oauth_actor, connection_id)
    assert connected.verified_at is not None
    assert connected.verified_at == connected.last_refreshed_at

    real = oauth_service.context.clock
    oauth_service.context.clock = lambda: real() + timedelta(days=1)
    oauth_service.internals.provider._clock = oauth_service.context.clock
    session = oauth_service.authorizations.start(oauth_actor, connection_id=connection_id)
    oauth_service.system.complete_authorization(sandbox.consent(session.authorize_url or ""))

    reconnected = oauth_service.connections.get(oauth_actor, connection_id)
    assert reconnected.verified_at is not None
    assert reconnected.verified_at >= connected.verified_at + timedelta(days=1)


# -- what the token response says, read the app's way -----------------------------
def _fake_runtime(settings: Settings, api: FakeOAuthApi, definition: dict[str, Any]) -> Runtime:
    return open_runtime(
        settings,
        transport=api.transport(),
        extra_apps=[App.model_validate(definition)],
        migrate=False,
    )


def _fake_actor(service: Service, app: str) -> Actor:
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    service.oauth_clients.register(
        actor, app=app, client_id=FAKE_CLIENT_ID, client_secret=FAKE_CLIENT_SECRET
    )
    return actor


def test_granted_scopes_are_read_with_the_responses_separator(settings: Settings) -> None:
    """GitHub answers ``repo,gist`` to a request for ``repo gist``."""
    api = FakeOAuthApi(token_fields={"scope": "repo,gist"})
    definition = oauth_app(
        "github-like",
        oauth2={"default_scopes": ["repo", "gist"], "response_scope_separator": ","},
    )
    runtime = _fake_runtime(settings, api, definition)
    try:
        service = runtime.service
        actor = _fake_actor(service, "github-like")
        outcome = service.system.complete_authorization(
            api.consent(_start(service, actor, "github-like"))
        )
        assert outcome.status == "succeeded", outcome.error_message
        connection = service.connections.get(actor, outcome.connection_id or "")
        assert connection.scopes == ["repo", "gist"]
        handed = service.credentials.resolve(actor, connection.id, required_scopes=["repo"])
        assert handed.fields["access_token"] == "at-1"
    finally:
        runtime.close()


# -- iss against a declared issuer, or none (G6) ------------------------------------
def _callback(
    settings: Settings, definition: dict[str, Any], iss: str | None, api: FakeOAuthApi | None = None
) -> tuple[str, str | None, list[str]]:
    """Connect ``definition`` on the fake with ``iss`` on the callback; return the outcome,
    its error code and the token requests made."""
    api = api or FakeOAuthApi()
    runtime = _fake_runtime(settings, api, definition)
    try:
        service = runtime.service
        key = definition["key"]
        actor = _fake_actor(service, key)
        outcome = service.system.complete_authorization(
            api.consent(_start(service, actor, key), iss=iss)
        )
        if outcome.status != "succeeded":
            _nothing_stored(service, actor)
        return outcome.status, outcome.error_code, [r["grant_type"] for r in api.token_requests]
    finally:
        runtime.close()


GOOGLE = "https://accounts.google.com"


@pytest.mark.parametrize(
    ("iss", "expected"),
    [
        (GOOGLE, ("succeeded", None)),
        (GOOGLE + "/", ("failed", "oauth_issuer_mismatch")),  # no slash folding
        (None, ("failed", "oauth_issuer_mismatch")),  # a declared issuer always sends it
    ],
)
def test_a_declared_issuer_is_compared_exactly_and_required(
    settings: Settings, iss: str | None, expected: tuple[str, str | None]
) -> None:
    status, code, tokens = _callback(
        settings, oauth_app("google-like", oauth2={"issuer": GOOGLE}), iss
    )
    assert (status, code) == expected
    assert tokens == (["authorization_code"] if status == "succeeded" else [])


XERO = "https://identity.xero.com"


@pytest.mark.parametrize(
    ("iss", "expected"),
    [
        (None, ("succeeded", None)),  # Xero does not always send iss
        (XERO, ("succeeded", None)),
        ("https://login.xero.com", ("failed", "oauth_issuer_mismatch")),
    ],
)
def test_an_issuer_whose_iss_is_optional_takes_none_but_never_a_wrong_one(
    settings: Settings, iss: str | None, expected: tuple[str, str | None]
) -> None:
    """Xero: authorization at login.xero.com, issuer identity.xero.com."""
    definition = oauth_app("xero-like", oauth2={"issuer": XERO, "iss_required": False})
    assert _callback(settings, definition, iss)[:2] == expected


def test_an_issuer_whose_metadata_advertises_iss_requires_it_after_all(settings: Settings) -> None:
    api = FakeOAuthApi(
        metadata={"issuer": LOGIN, "authorization_response_iss_parameter_supported": True}
    )
    definition = oauth_app("strict", oauth2={"issuer": LOGIN, "iss_required": False})
    assert _callback(settings, definition, None, api)[:2] == ("failed", "oauth_issuer_mismatch")


def test_without_issuer_or_metadata_an_iss_from_another_host_is_not_compared(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing says who the issuer is: the origin of the authorization URL is only a guess
    (Xero, Microsoft, Salesforce My Domain answer from another host), so ``iss`` is not
    compared, and its value is not logged."""
    caplog.set_level("INFO", logger="gatekey.service.callback_issuer")
    status, code, _ = _callback(settings, oauth_app("quiet"), "https://issuer.elsewhere.example")
    assert (status, code) == ("succeeded", None)
    assert "no issuer is known" in caplog.text
    assert "elsewhere" not in caplog.text


@pytest.mark.parametrize(
    ("iss", "expected"),
    [
        (LOGIN, ("succeeded", None)),
        ("https://elsewhere.example", ("failed", "oauth_issuer_mismatch")),
    ],
)
def test_without_an_issuer_the_servers_metadata_names_it(
    settings: Settings, iss: str, expected: tuple[str, str | None]
) -> None:
    api = FakeOAuthApi(metadata={"issuer": LOGIN})
    assert _callback(settings, oauth_app("meta"), iss, api)[:2] == expected
