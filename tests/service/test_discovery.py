"""``service.discovery``: what the app's API says after consent becomes config, before the
connection is stored. Xero-shaped (``/connections`` gives the tenant id, sent afterwards as
``xero-tenant-id``) and Atlassian-shaped (``accessible-resources`` gives the cloud id, the base
URL's ``/ex/jira/{cloud_id}`` prefix), on ``tests/fakes/oauth_apis``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gatekey.catalog.schema import App, OAuth2Spec
from gatekey.egress import EgressPolicy, GuardedClient, GuardedTransport
from gatekey.errors import DestinationBlocked
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.service.discovery import discover
from gatekey.settings import Settings
from tests.fakes.oauth_apis import API, CLIENT_ID, CLIENT_SECRET, FakeOAuthApi, oauth_app

TENANTS = [
    {"id": "c-1", "tenantId": "t-acme", "tenantType": "ORGANISATION", "tenantName": "Acme"},
    {"id": "c-2", "tenantId": "t-zeta", "tenantType": "ORGANISATION", "tenantName": "Zeta"},
]
NO_TENANT = "no Xero organisation was connected: choose one on Xero's consent screen"


def xero_like() -> dict[str, Any]:
    return oauth_app(
        "xero-like",
        config={"type": "object", "properties": {"tenant_id": {"title": "Tenant"}}},
        apply=[
            {"type": "bearer", "value": "{access_token}"},
            {"type": "header", "name": "xero-tenant-id", "value": "{tenant_id}"},
        ],
        test_request={"path": "/connections", "account_label": ["0.tenantName"]},
        oauth2={
            "discovery": [
                {
                    "url": f"{API}/connections",
                    "config": [{"name": "tenant_id", "path": "0.tenantId"}],
                    "account_label": ["0.tenantName"],
                    "empty_message": NO_TENANT,
                }
            ]
        },
    )


def jira_like() -> dict[str, Any]:
    return oauth_app(
        "jira-like",
        base_url=f"{API}/ex/jira/{{cloud_id}}",
        test_request={"path": "/rest/api/3/myself", "account_label": ["emailAddress"]},
        oauth2={
            "discovery": [
                {
                    "url": f"{API}/oauth/token/accessible-resources",
                    "config": [{"name": "cloud_id", "path": "0.id"}],
                }
            ]
        },
    )


@pytest.fixture
def api() -> FakeOAuthApi:
    return FakeOAuthApi(
        routes={
            "/connections": TENANTS,
            "/oauth/token/accessible-resources": [
                {"id": "cloud-1", "url": "https://acme.atlassian.net", "name": "acme"}
            ],
            "/ex/jira/cloud-1/rest/api/3/myself": {"emailAddress": "ada@acme.test"},
        }
    )


@pytest.fixture
def runtime(settings: Settings, api: FakeOAuthApi) -> Iterator[Runtime]:
    apps = [App.model_validate(xero_like()), App.model_validate(jira_like())]
    rt = open_runtime(settings, transport=api.transport(), extra_apps=apps, migrate=False)
    yield rt
    rt.close()


@pytest.fixture
def actor(runtime: Runtime) -> Actor:
    project, _ = runtime.service.system.bootstrap()
    actor = Actor.operator(project.id)
    for app in ("xero-like", "jira-like"):
        runtime.service.oauth_clients.register(
            actor, app=app, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        )
    return actor


def _sign_in(service: Service, actor: Actor, api: FakeOAuthApi, app: str, **start: Any) -> Any:
    session = service.authorizations.start(actor, **({"app": app, "name": app} | start))
    return service.system.complete_authorization(api.consent(session.authorize_url or ""))


def test_the_xero_tenant_becomes_config_the_label_and_a_header(
    runtime: Runtime, actor: Actor, api: FakeOAuthApi
) -> None:
    service = runtime.service
    outcome = _sign_in(service, actor, api, "xero-like")
    assert outcome.status == "succeeded", outcome.error_message

    connection = service.connections.get(actor, outcome.connection_id or "")
    assert connection.config["tenant_id"] == "t-acme"
    assert connection.account_label == "Acme"
    (asked,) = [r for r in api.api_requests if r.url.path == "/connections"]
    assert asked.headers["authorization"] == "Bearer at-1"
    credentials = service.credentials.resolve(actor, connection.id)
    assert credentials.headers["xero-tenant-id"] == "t-acme"


def test_a_chosen_tenant_is_kept_when_listed_and_names_the_account(
    runtime: Runtime, actor: Actor, api: FakeOAuthApi
) -> None:
    service = runtime.service
    outcome = _sign_in(service, actor, api, "xero-like", config={"tenant_id": "t-zeta"})
    assert outcome.status == "succeeded", outcome.error_message
    connection = service.connections.get(actor, outcome.connection_id or "")
    assert connection.config["tenant_id"] == "t-zeta"
    assert connection.account_label == "Zeta"


def test_a_chosen_tenant_the_grant_does_not_reach_fails_and_stores_nothing(
    runtime: Runtime, actor: Actor, api: FakeOAuthApi
) -> None:
    service = runtime.service
    outcome = _sign_in(service, actor, api, "xero-like", config={"tenant_id": "t-gone"})
    assert (outcome.status, outcome.error_code) == ("failed", "discovery_failed")
    assert "does not list the tenant_id chosen" in (outcome.error_message or "")
    assert "t-gone" not in (outcome.error_message or "")
    assert service.connections.list(actor).items == []


@pytest.mark.parametrize(
    ("answer", "status"),
    [([], 200), ([{"tenantId": ""}], 200), ({"message": "forbidden"}, 403)],
    ids=["empty", "blank", "refused"],
)
def test_an_answer_with_nothing_fails_with_the_apps_message_and_stores_nothing(
    runtime: Runtime, actor: Actor, api: FakeOAuthApi, answer: Any, status: int
) -> None:
    if status == 200:
        api.routes["/connections"] = answer
    else:
        del api.routes["/connections"]  # the fake answers 404
    outcome = _sign_in(runtime.service, actor, api, "xero-like")
    assert (outcome.status, outcome.error_code) == ("failed", "discovery_failed")
    if status == 200:
        assert NO_TENANT in (outcome.error_message or "")
    assert "at-1" not in (outcome.error_message or "")
    assert runtime.service.connections.list(actor).items == []


def test_an_unreachable_api_is_provider_unavailable(
    runtime: Runtime, actor: Actor, api: FakeOAuthApi
) -> None:
    api.unreachable.add("/connections")
    outcome = _sign_in(runtime.service, actor, api, "xero-like")
    assert (outcome.status, outcome.error_code) == ("failed", "provider_unavailable")
    assert "api.fake.test" in (outcome.error_message or "")
    assert runtime.service.connections.list(actor).items == []


def test_the_jira_cloud_id_becomes_the_base_urls_prefix(
    runtime: Runtime, actor: Actor, api: FakeOAuthApi
) -> None:
    service = runtime.service
    outcome = _sign_in(service, actor, api, "jira-like")
    assert outcome.status == "succeeded", outcome.error_message
    connection = service.connections.get(actor, outcome.connection_id or "")
    assert connection.config["cloud_id"] == "cloud-1"
    assert connection.account_label == "ada@acme.test", "the test request used the prefix"
    credentials = service.credentials.resolve(actor, connection.id)
    assert credentials.base_url == f"{API}/ex/jira/cloud-1"


def _reconnect(service: Service, actor: Actor, api: FakeOAuthApi, connection_id: str) -> Any:
    session = service.authorizations.start(actor, connection_id=connection_id)
    return service.system.complete_authorization(api.consent(session.authorize_url or ""))


def test_a_reconnect_runs_discovery_again(
    runtime: Runtime, actor: Actor, api: FakeOAuthApi
) -> None:
    service = runtime.service
    first = _sign_in(service, actor, api, "jira-like")
    assert first.status == "succeeded", first.error_message
    moved = "/ex/jira/cloud-2/rest/api/3/myself"
    api.routes["/oauth/token/accessible-resources"] = [{"id": "cloud-2", "name": "acme"}]
    api.routes[moved] = {"emailAddress": "ada@acme.test"}

    again = _reconnect(service, actor, api, first.connection_id or "")

    assert again.status == "succeeded", again.error_message
    assert again.connection_id == first.connection_id
    connection = service.connections.get(actor, first.connection_id or "")
    assert connection.config["cloud_id"] == "cloud-2"
    asked = [r for r in api.api_requests if r.url.path.endswith("accessible-resources")]
    assert [r.headers["authorization"] for r in asked] == ["Bearer at-1", "Bearer at-2"]


def test_a_reconnect_keeps_its_tenant_while_the_grant_still_reaches_it(
    runtime: Runtime, actor: Actor, api: FakeOAuthApi
) -> None:
    """The tenant a connection has is the one it chose: a reconnect that lists it (in any
    order) keeps it; one that no longer reaches it fails and changes nothing."""
    service = runtime.service
    first = _sign_in(service, actor, api, "xero-like")
    connection_id = first.connection_id or ""
    api.routes["/connections"] = [TENANTS[1], TENANTS[0]]
    assert _reconnect(service, actor, api, connection_id).status == "succeeded"
    kept = service.connections.get(actor, connection_id)
    assert (kept.config["tenant_id"], kept.account_label) == ("t-acme", "Acme")

    api.routes["/connections"] = [TENANTS[1]]
    gone = _reconnect(service, actor, api, connection_id)
    assert (gone.status, gone.error_code) == ("failed", "discovery_failed")
    after = service.connections.get(actor, connection_id)
    assert after.config["tenant_id"] == "t-acme" and after.version == kept.version


def test_discovery_goes_through_the_egress_guard() -> None:
    spec = OAuth2Spec(
        token_url="https://auth.example/token",
        discovery=[{"url": "http://169.254.169.254/latest/meta-data", "config": ["role"]}],
    )
    transport = GuardedTransport(EgressPolicy())
    with GuardedClient(transport=transport) as http, pytest.raises(DestinationBlocked):
        discover(http, "Metadata", spec, {}, "at-CANARY", [])
