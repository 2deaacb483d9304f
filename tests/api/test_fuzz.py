"""Schemathesis against the published OpenAPI document, over real HTTP.

Every operation gets generated requests, valid and invalid, with an admin key. The ids of real
objects (a connection, a flow and its run, an OAuth client, an API key, an OAuth session) are
given to the path parameters as examples, so operations on existing objects are exercised too,
not only their 404s. (Schemathesis's stateful mode was tried: its inferred links make
Hypothesis report flaky data generation against a server whose data grows, so the ids are
seeded instead.) The checks are
no server error, status codes, content types, headers and bodies as the document declares
them, and a canary check: apart from the credentials endpoint (which exists to hand out
credentials) and the proxy (which relays what the provider answers), no response may contain
a secret the project holds: API keys, OAuth client secrets, tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as openapi_checks

from gatekey.runtime import Runtime, open_runtime
from gatekey.server import create_app
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.keys import MASTER_KEY
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.servers import serve

pytestmark = pytest.mark.slow  # fuzzing: Schemathesis over every operation

CANARY_CLIENT_SECRET = "CANARYfuzzCLIENTsecret0001"
RELAYS = ("/credentials", "/api/v1/proxy/")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Runtime]]:
    home: Path = tmp_path_factory.mktemp("fuzz")
    settings = Settings(
        home=home,
        master_keys=MASTER_KEY,
        **{f"rate_{name}": 0 for name in _LIMITS},  # the fuzzer would spend every budget
    )
    runtime = open_runtime(settings, transport=FakeProviders().transport())
    project, _ = runtime.service.system.bootstrap()
    actor = Actor.operator(project.id)
    runtime.service.connections.create(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}
    )
    runtime.service.oauth_clients.register(
        actor, app="github", client_id="Iv1.fuzz", client_secret=CANARY_CLIENT_SECRET
    )
    key = runtime.service.access.create_key(actor, name="fuzz", role="admin")
    with serve(create_app(runtime)) as url:
        yield url, key.token, runtime
    runtime.close()


def _seed(runtime: Runtime) -> dict[str, str]:
    """Objects for the path parameters to name; the fuzzer may change or delete them."""
    service = runtime.service
    actor = Actor.operator(service.system.bootstrap()[0].id)
    connection = service.connections.list(actor).items[0]
    flow = service.flows.create(
        actor,
        name="Fuzzed flow",
        definition={
            "steps": [
                {
                    "id": "send",
                    "app": "sendgrid",
                    "connection": connection.id,
                    "type": "http",
                    "http": {"method": "GET", "path": "/v3/scopes"},
                }
            ]
        },
    )
    run = service.runs.trigger(actor, flow.id, {})
    spare = service.access.create_key(actor, name="spare", role="runtime")
    oauth_client = service.oauth_clients.list(actor)[0]
    session = service.authorizations.start(actor, app="github", name="GitHub - fuzz")
    return {
        "connection_id": connection.id,
        "flow_id": flow.id,
        "run_id": run.id,
        "key_id": spare.id,
        "oauth_client_id": oauth_client.id,
        "session_id": session.id,
        "key": "sendgrid",
        "path": "v3/scopes",
    }


_LIMITS = (
    "resolve_per_key",
    "resolve_per_project",
    "oauth_per_key",
    "oauth_per_project",
    "callback_per_client",
    "callback_per_project",
    "signin_per_client",
    "signin_per_project",
    "auth_failures_per_client",
)


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[str, str, Runtime]) -> Any:
    url, _, runtime = fuzzed
    document = httpx2.get(f"{url}/openapi.json").json()
    seeded = _seed(runtime)
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in seeded:
                    parameter["schema"]["examples"] = [seeded[parameter["name"]]]
    loaded = schemathesis.openapi.from_dict(document)
    loaded.config.update(base_url=url)
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


def _no_canary(token: str) -> Any:
    def no_secret_outside_the_relays(ctx: Any, response: Any, case: Any) -> None:
        if any(part in case.formatted_path for part in RELAYS):
            return
        text = response.text or ""
        for secret in (GOOD_SENDGRID, CANARY_CLIENT_SECRET, token):
            assert secret not in text, f"{case.method} {case.formatted_path} returned a secret"

    return no_secret_outside_the_relays


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_holds_to_its_document(case: Any, fuzzed: tuple[str, str, Runtime]) -> None:
    url, token, _ = fuzzed
    case.call_and_validate(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, checks=_checks(token)
    )


def _checks(token: str) -> list[Any]:
    return [
        st_checks.not_a_server_error,
        openapi_checks.status_code_conformance,
        openapi_checks.content_type_conformance,
        openapi_checks.response_headers_conformance,
        openapi_checks.response_schema_conformance,
        _no_canary(token),
    ]


def test_the_seeded_objects_were_reached(fuzzed: tuple[str, str, Runtime]) -> None:
    """Runs after the fuzzing above (same module): real ids were used, not only random ones."""
    _, _, runtime = fuzzed
    actor = Actor.operator(runtime.service.system.bootstrap()[0].id)
    actions = {e.action for e in runtime.service.audit.events(actor, limit=500)}
    assert "credentials.read" in actions
    assert actions & {"connection.update", "connection.delete", "connection.test"}
    assert actions & {"flow.update", "flow.delete", "flow.webhook", "run.queue"}
