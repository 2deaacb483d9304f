"""The OAuth client (Authlib under ``oauth.provider``) against a real authorization server that
nobody here wrote: ``oauth2-mock-server`` from npm, pinned in ``package.json``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import update

from gatekey.catalog.schema import App
from gatekey.errors import (
    GrantRevoked,
    OAuthClientRejected,
    ProviderUnavailable,
    TokenRequestRefused,
)
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.provider import ProviderClient, ServerMetadata, metadata_urls
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.mock_oauth_server import MockOAuthServer

SECRET = "mock-client-secret-CANARY-93a1"


def mock_app(server: MockOAuthServer, auth_method: str = "client_secret_basic") -> App:
    key = "mock-idp" if auth_method == "client_secret_basic" else "mock-idp-post"
    return App.model_validate(
        {
            "key": key,
            "name": "Mock IdP",
            "docs_url": "https://www.npmjs.com/package/oauth2-mock-server",
            "base_url": server.base_url,
            "builtin": False,
            "auth": [
                {
                    "kind": "oauth2",
                    "oauth2": {
                        "authorization_url": server.authorization_url,
                        "token_url": server.token_url,
                        "revocation_url": server.revocation_url,
                        # no `issuer`: the package sends no `iss` (RFC 9207) unless told, and
                        # its discovery document does not claim it; a declared issuer would
                        # make `iss` required
                        "default_scopes": ["openid", "email"],
                        "client_auth_method": auth_method,
                    },
                    "test_request": {"path": "/userinfo", "account_label": ["sub"]},
                }
            ],
        }
    )


@pytest.fixture(scope="session")
def mock_idp() -> Iterator[MockOAuthServer]:
    with MockOAuthServer() as server:
        yield server


@pytest.fixture
def idp(mock_idp: MockOAuthServer) -> MockOAuthServer:
    mock_idp.reset()
    return mock_idp


@pytest.fixture
def idp_runtime(settings: Settings, idp: MockOAuthServer) -> Iterator[Runtime]:
    apps = [mock_app(idp), mock_app(idp, "client_secret_post")]
    rt = open_runtime(settings, extra_apps=apps)
    yield rt
    rt.close()


def _actor(rt: Runtime, app: str) -> Actor:
    project, _ = rt.service.system.bootstrap()
    actor = Actor.operator(project.id)
    rt.service.oauth_clients.register(actor, app=app, client_id="gatekey-ci", client_secret=SECRET)
    return actor


def _connect(rt: Runtime, actor: Actor, idp: MockOAuthServer, app: str = "mock-idp") -> str:
    session = rt.service.authorizations.start(actor, app=app, name=f"{app} account")
    redirect = idp.authorize(session.authorize_url or "")
    outcome = rt.service.system.complete_authorization(dict(redirect.params))
    assert outcome.status == "succeeded", outcome.error_message
    return outcome.connection_id or ""


@pytest.mark.parametrize("app", ["mock-idp", "mock-idp-post"])
def test_code_exchange_with_pkce_and_the_configured_client_auth(
    idp_runtime: Runtime, idp: MockOAuthServer, app: str
) -> None:
    actor = _actor(idp_runtime, app)
    connection_id = _connect(idp_runtime, actor, idp, app)

    connection = idp_runtime.service.connections.get(actor, connection_id)
    assert connection.account_label == "johndoe"
    assert connection.scopes == ["openid", "email"]
    (request,) = idp.stats()["token_log"]
    assert request["grant_type"] == "authorization_code"
    assert len(request["params"]["code_verifier"]) >= 43
    assert request["params"]["redirect_uri"] == idp_runtime.settings.callback_url
    expected = "client_secret_basic" if app == "mock-idp" else "client_secret_post"
    assert request["client_auth"]["method"] == expected
    assert request["client_auth"]["client_secret"] == SECRET


def test_wrong_verifier_is_refused_by_the_server(
    idp_runtime: Runtime, idp: MockOAuthServer
) -> None:
    actor = _actor(idp_runtime, "mock-idp")
    first = idp_runtime.service.authorizations.start(actor, app="mock-idp", name="one")
    second = idp_runtime.service.authorizations.start(actor, app="mock-idp", name="two")
    first_redirect = dict(idp.authorize(first.authorize_url or "").params)
    second_redirect = dict(idp.authorize(second.authorize_url or "").params)
    outcome = idp_runtime.service.system.complete_authorization(
        {**first_redirect, "code": second_redirect["code"]}
    )
    assert outcome.error_code == "oauth_token_exchange_failed"
    assert idp_runtime.service.connections.list(actor).items == []


def test_refresh_uses_the_refresh_token_and_stores_the_new_one(
    idp_runtime: Runtime, idp: MockOAuthServer
) -> None:
    actor = _actor(idp_runtime, "mock-idp")
    connection_id = _connect(idp_runtime, actor, idp)
    before = idp_runtime.service.credentials.open(actor, connection_id).secret
    with idp_runtime.db.write() as conn:
        conn.execute(
            update(connections)
            .where(connections.c.id == connection_id)
            .values(expires_at=utcnow() - timedelta(seconds=5), version=connections.c.version + 1)
        )
    credentials = idp_runtime.service.credentials.resolve(actor, connection_id)
    assert credentials.expires_at is not None and credentials.expires_at > utcnow()
    log = idp.stats()["token_log"]
    assert [r["grant_type"] for r in log] == ["authorization_code", "refresh_token"]
    assert log[1]["params"]["refresh_token"] == before["refresh_token"]
    after = idp_runtime.service.credentials.open(actor, connection_id).secret
    assert after["refresh_token"] != before["refresh_token"], "the rotated token is stored"


def test_iss_on_the_redirect_is_checked(idp_runtime: Runtime, idp: MockOAuthServer) -> None:
    actor = _actor(idp_runtime, "mock-idp")
    idp.set_authorize_iss(True)
    session = idp_runtime.service.authorizations.start(actor, app="mock-idp", name="with iss")
    params = dict(idp.authorize(session.authorize_url or "").params)
    assert params["iss"] == idp.issuer
    assert idp_runtime.service.system.complete_authorization(params).status == "succeeded"


def test_access_denied_at_the_server_is_reported(
    idp_runtime: Runtime, idp: MockOAuthServer
) -> None:
    actor = _actor(idp_runtime, "mock-idp")
    idp.fail_next_authorize("access_denied", "The resource owner denied the request")
    session = idp_runtime.service.authorizations.start(actor, app="mock-idp", name="denied")
    outcome = idp_runtime.service.system.complete_authorization(
        dict(idp.authorize(session.authorize_url or "").params)
    )
    assert outcome.error_code == "oauth_access_denied"
    assert "denied the request" in (outcome.error_message or "")


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (400, {"error": "invalid_grant", "error_description": "gone"}, {}, GrantRevoked),
        (401, {"error": "invalid_client"}, {}, OAuthClientRejected),
        (400, {"error": "invalid_scope"}, {}, TokenRequestRefused),
        (400, {"message": "no error field"}, {}, TokenRequestRefused),
        (500, {"error": "server_error"}, {}, ProviderUnavailable),
        (503, {"error": "temporarily_unavailable"}, {}, ProviderUnavailable),
        (429, {"error": "slow_down"}, {"Retry-After": "30"}, ProviderUnavailable),
    ],
)
def test_token_endpoint_errors_are_sorted_into_classes(
    idp: MockOAuthServer,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    error: type[Exception],
) -> None:
    app = mock_app(idp)
    spec = app.auth[0].oauth2
    assert spec is not None
    idp.fail_next_token(status, body, headers)
    with httpx2.HTTPTransport() as transport, pytest.raises(error) as caught:
        ProviderClient(transport, timeout=5, clock=utcnow).refresh(
            spec,
            {},
            ClientCredentials("gatekey-ci", SECRET),
            app_name="Mock IdP",
            refresh_token="rt-CANARY-1234",
        )
    assert "CANARY" not in str(caught.value)
    if status == 429:
        assert isinstance(caught.value, ProviderUnavailable)
        assert caught.value.retry_after == 30


def test_refresh_goes_to_the_apps_refresh_url_when_it_has_one() -> None:
    from gatekey.catalog.schema import OAuth2Spec

    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(200, json={"access_token": "new", "expires_in": 60})

    spec = OAuth2Spec(
        authorization_url="https://auth.example/authorize",
        token_url="https://auth.example/token",
        refresh_url="https://api.example/refresh",
    )
    with httpx2.MockTransport(handler) as transport:
        answer = ProviderClient(transport, timeout=5, clock=utcnow).refresh(
            spec, {}, ClientCredentials("c", "s"), app_name="X", refresh_token="rt"
        )
    assert seen == ["https://api.example/refresh"]
    assert answer.body["access_token"] == "new"


def test_server_metadata_is_read_from_the_server_and_must_name_it(
    mock_idp: MockOAuthServer,
) -> None:
    """oauth2-mock-server publishes OpenID discovery and does not advertise ``iss``; a document
    fetched for another identifier (here with a trailing slash) is not taken (RFC 8414 3.3)."""
    with httpx2.HTTPTransport() as transport:
        client = ProviderClient(transport, timeout=5, clock=utcnow)
        found = client.server_metadata(mock_idp.issuer)
        assert found == ServerMetadata(mock_idp.issuer, iss_parameter_supported=False)
        assert client.server_metadata(mock_idp.issuer + "/") is None
        assert client.server_metadata("http://127.0.0.1:1") is None  # nothing listens there


def test_metadata_urls_follow_rfc_8414_then_openid_discovery() -> None:
    assert metadata_urls("https://id.example.com/realms/acme") == [
        "https://id.example.com/.well-known/oauth-authorization-server/realms/acme",
        "https://id.example.com/realms/acme/.well-known/openid-configuration",
    ]
    assert metadata_urls("https://id.example.com")[0] == (
        "https://id.example.com/.well-known/oauth-authorization-server"
    )


# -- where the provider says the grant is gone (revoked_error_fields) ------------------
def _answering(status: int, body: dict[str, Any], **oauth2: Any) -> Exception | None:
    from gatekey.catalog.schema import OAuth2Spec

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json=body)

    spec = OAuth2Spec(token_url="https://auth.example/token", **oauth2)
    with httpx2.MockTransport(handler) as transport:
        try:
            ProviderClient(transport, timeout=5, clock=utcnow).refresh(
                spec, {}, ClientCredentials("c", SECRET), app_name="X", refresh_token="rt-CANARY"
            )
        except Exception as exc:
            return exc
    return None


HUBSPOT = {"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"}


def test_a_revoked_code_in_another_field_is_a_revoked_grant() -> None:
    """HubSpot's legacy answer names the code in ``status``, not ``error``."""
    caught = _answering(
        400,
        HUBSPOT,
        revoked_errors=["invalid_grant", "BAD_REFRESH_TOKEN"],
        revoked_error_fields=["error", "status"],
    )
    assert isinstance(caught, GrantRevoked)
    assert caught.message == "X says the grant is no longer valid: missing or invalid refresh token"
    assert caught.details["error"] == "BAD_REFRESH_TOKEN"


def test_without_the_field_declared_the_same_answer_is_only_a_refusal() -> None:
    caught = _answering(400, HUBSPOT, revoked_errors=["invalid_grant", "BAD_REFRESH_TOKEN"])
    assert isinstance(caught, TokenRequestRefused)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"error": "bad_refresh_token", "error_description": "gone"}, id="github"),
        pytest.param({"ok": False, "error": "invalid_refresh_token"}, id="slack"),
    ],
)
def test_a_revoked_grant_on_a_200_is_a_revoked_grant(body: dict[str, Any]) -> None:
    caught = _answering(
        200, body, revoked_errors=["invalid_grant", "bad_refresh_token", "invalid_refresh_token"]
    )
    assert isinstance(caught, GrantRevoked)
    assert "CANARY" not in caught.message


def test_a_revoked_answer_quoting_the_secrets_is_masked() -> None:
    body = {"status": "BAD_REFRESH_TOKEN", "message": f"token rt-CANARY of client {SECRET}"}
    caught = _answering(
        400, body, revoked_errors=["BAD_REFRESH_TOKEN"], revoked_error_fields=["status"]
    )
    assert isinstance(caught, GrantRevoked)
    assert "CANARY" not in caught.message and SECRET not in caught.message


# -- each endpoint's own request shape (token_request, revocation_request) -------------
def _recording(status: int = 200, body: dict[str, Any] | None = None) -> Any:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        request.read()
        seen.append(request)
        return httpx2.Response(status, json={"access_token": "new"} if body is None else body)

    return seen, httpx2.MockTransport(handler)


def _shaped(**oauth2: Any) -> Any:
    from gatekey.catalog.schema import OAuth2Spec

    return OAuth2Spec(
        authorization_url="https://auth.example/authorize",
        token_url="https://auth.example/token",
        revocation_url="https://auth.example/revoke",
        **oauth2,
    )


def _basic(request: httpx2.Request) -> tuple[str, str]:
    import base64

    scheme, _, value = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user, password


def _form(request: httpx2.Request) -> dict[str, str]:
    from urllib.parse import parse_qsl

    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    return dict(parse_qsl(request.content.decode()))


def test_calendly_revocation_carries_the_client_in_its_body_and_the_token_request_basic() -> None:
    """Calendly: Basic at the token endpoint; the revocation wants client_id and
    client_secret in its form body (developer.calendly.com post-oauth-revoke)."""
    spec = _shaped(revocation_request={"client_auth_method": "client_secret_post"})
    seen, transport = _recording()
    client = ProviderClient(transport, timeout=5, clock=utcnow)
    credentials = ClientCredentials("cal-client", SECRET)
    client.refresh(spec, {}, credentials, app_name="Calendly", refresh_token="rt-1")
    client.revoke(
        spec, {}, credentials, app_name="Calendly", token="rt-1", token_type_hint="refresh_token"
    )
    token, revoke = seen
    assert _basic(token) == ("cal-client", SECRET)
    assert "client_secret" not in _form(token)
    assert "authorization" not in revoke.headers
    assert _form(revoke) == {
        "token": "rt-1",
        "token_type_hint": "refresh_token",
        "client_id": "cal-client",
        "client_secret": SECRET,
    }


def test_notion_revocation_is_json_with_basic_and_its_version_header() -> None:
    """Notion: POST /v1/oauth/revoke, Basic, a JSON body with the token, Notion-Version
    (developers.notion.com/reference/revoke-token)."""
    spec = _shaped(revocation_request={"body": "json", "headers": {"Notion-Version": "2025-09-03"}})
    seen, transport = _recording()
    ProviderClient(transport, timeout=5, clock=utcnow).revoke(
        spec,
        {},
        ClientCredentials("notion-client", SECRET),
        app_name="Notion",
        token="secret_at-CANARY",
        token_type_hint="access_token",
    )
    (revoke,) = seen
    assert revoke.headers["content-type"] == "application/json"
    assert revoke.headers["notion-version"] == "2025-09-03"
    assert _basic(revoke) == ("notion-client", SECRET)
    assert json.loads(revoke.content) == {
        "token": "secret_at-CANARY",
        "token_type_hint": "access_token",
    }
    assert int(revoke.headers["content-length"]) == len(revoke.content)


def test_a_json_token_endpoint_gets_every_parameter_and_the_client_in_the_object() -> None:
    spec = _shaped(
        client_auth_method="client_secret_post",
        token_request={"body": "json", "headers": {"X-Api-Version": "{version}"}},
    )
    seen, transport = _recording()
    ProviderClient(transport, timeout=5, clock=utcnow).exchange_code(
        spec,
        {"version": "7"},
        ClientCredentials("json-client", SECRET),
        app_name="X",
        redirect_uri="https://gatekey.example/oauth/callback",
        code="the-code",
        code_verifier="v" * 43,
    )
    (token,) = seen
    assert token.headers["content-type"] == "application/json"
    assert token.headers["x-api-version"] == "7"
    assert "authorization" not in token.headers
    assert json.loads(token.content) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://gatekey.example/oauth/callback",
        "code_verifier": "v" * 43,
        "client_id": "json-client",
        "client_secret": SECRET,
    }


def test_a_json_token_endpoint_echoing_the_secret_is_masked() -> None:
    spec = _shaped(token_request={"body": "json"})
    said = {"error": "invalid_client", "error_description": f"no client with secret {SECRET}"}
    _, transport = _recording(401, said)
    with pytest.raises(OAuthClientRejected) as caught:
        ProviderClient(transport, timeout=5, clock=utcnow).client_credentials(
            spec, {}, ClientCredentials("c", SECRET), app_name="X", scopes=[]
        )
    assert SECRET not in caught.value.message and "CANARY" not in caught.value.message
