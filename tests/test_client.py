"""``gatekey.Client``: problem documents come back as the service's own exceptions."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from fastapi.testclient import TestClient

from gatekey import Client, errors
from gatekey.api.app import create_app
from gatekey.runtime import Runtime


def _tree() -> Iterator[type[errors.GatekeyError]]:
    pending = [errors.GatekeyError]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


@pytest.mark.parametrize("cls", sorted(_tree(), key=lambda c: c.code), ids=lambda c: c.code)
def test_every_code_comes_back_as_its_class(cls: type[errors.GatekeyError]) -> None:
    def answer(_: httpx2.Request) -> httpx2.Response:
        problem = {"code": cls.code, "detail": "it said no", "retry_after": 2, "status": 409}
        return httpx2.Response(409, json=problem)

    with (
        Client("http://gatekey.test", "gk_test", transport=httpx2.MockTransport(answer)) as client,
        pytest.raises(errors.GatekeyError) as caught,
    ):
        client.get_connection("conn_1")
    assert type(caught.value) is cls
    assert caught.value.message == "it said no"
    assert caught.value.details == {"status": 409, "retry_after": 2}


def test_an_unknown_code_is_a_plain_gatekey_error() -> None:
    def answer(_: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(418, text="not json")

    with (
        Client("http://gatekey.test", "gk_test", transport=httpx2.MockTransport(answer)) as client,
        pytest.raises(errors.GatekeyError) as caught,
    ):
        client.list_flows()
    assert type(caught.value) is errors.GatekeyError and caught.value.message == "HTTP 418"


def test_a_refused_method_is_method_not_allowed(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as server:
        answered = server.put("/api/v1/runs")
    assert answered.status_code == 405
    assert answered.json()["code"] == errors.MethodNotAllowed.code
