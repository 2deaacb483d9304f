"""RFC 9207 on the callback: ``iss`` checked first, exactly, and required where the app declares
its issuer (the sandbox) or the server's metadata says it sends one (panva's oidc-provider)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gatekey.catalog.schema import App
from gatekey.runtime import Runtime, open_runtime
from gatekey.server import create_app
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.oidc_server import CLIENT_ID, CLIENT_SECRET, OidcServer, running_oidc_server
from tests.fakes.sandbox import Sandbox, sandbox_project

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
