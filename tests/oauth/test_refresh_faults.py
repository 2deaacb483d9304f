"""1,000 transient faults at the token endpoint leave no connection wrongly Inactive and lose no
token; a revoked grant is Inactive after one attempt.

The token requests go to the real sandbox through a transport that, when a fault is queued,
answers in its place the way failing providers and networks do: 5xx pages, 429 with
Retry-After, timeouts, resets, HTML where JSON was due, JSON that is not JSON or not a token.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from gatekey.errors import ConnectionInactive, ProviderUnavailable
from gatekey.runtime import open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.sandbox import CLIENT_ID, CLIENT_SECRET, Sandbox, connect

pytestmark = pytest.mark.slow  # fuzzing: a thousand injected faults

Fault = Callable[[httpx2.Request], httpx2.Response]


def _status(code: int, **headers: str) -> Fault:
    return lambda request: httpx2.Response(code, text="<h1>error</h1>", headers=headers)


def _raise(kind: type[Exception]) -> Fault:
    def fault(request: httpx2.Request) -> httpx2.Response:
        raise kind("injected", request=request)  # type: ignore[call-arg]

    return fault


def _body(content: str, media: str) -> Fault:
    return lambda request: httpx2.Response(
        200, content=content.encode(), headers={"Content-Type": media}
    )


FAULTS: dict[str, Fault] = {
    "500": _status(500),
    "502": _status(502),
    "503": _status(503, **{"Retry-After": "3"}),
    "504": _status(504),
    "429": _status(429, **{"Retry-After": "2"}),
    "read-timeout": _raise(httpx2.ReadTimeout),
    "connect-timeout": _raise(httpx2.ConnectTimeout),
    "refused": _raise(httpx2.ConnectError),
    "reset": _raise(httpx2.RemoteProtocolError),
    "html": _body("<html><body>Down for maintenance</body></html>", "text/html"),
    "not-json": _body('{"access_token": "abc", ', "application/json"),
    "not-a-token": _body('{"status": "ok"}', "application/json"),
}


class FaultyTransport(httpx2.BaseTransport):
    """Pass requests to the network, except token requests while a fault is queued."""

    def __init__(self) -> None:
        self.inner = httpx2.HTTPTransport()
        self.queued: list[str] = []
        self.injected: Counter[str] = Counter()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/token") and self.queued:
            name = self.queued.pop(0)
            self.injected[name] += 1
            return FAULTS[name](request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_thousand_transient_faults_change_nothing(settings: Settings, sandbox: Sandbox) -> None:
    sandbox.control("reset")
    sandbox.state.rotate_refresh = True
    transport = FaultyTransport()
    runtime = open_runtime(settings, transport=transport, extra_apps=[sandbox.app])
    service = runtime.service
    now = [datetime.now(UTC)]
    service.context.clock = lambda: now[0]
    service.internals.provider._clock = (
        service.context.clock
    )  # token lifetimes counted on the same clock
    actor = Actor.operator(service.system.bootstrap()[0].id)
    service.oauth_clients.register(
        actor, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    ids = [connect(service, actor, sandbox, name=f"Sandbox {n}") for n in range(10)]
    tokens = {cid: service.credentials.resolve(actor, cid).fields["access_token"] for cid in ids}
    rng = random.Random(7)
    outcomes: Counter[str] = Counter()
    try:
        for _ in range(5000):
            if sum(transport.injected.values()) == 1000:
                break
            cid = rng.choice(ids)
            transport.queued[:] = [rng.choice(list(FAULTS))]
            try:
                got = service.credentials.resolve(actor, cid, stale_token=tokens[cid])
            except ProviderUnavailable:
                outcomes["unavailable"] += 1
            else:
                assert got.fields["access_token"] == tokens[cid], "a fault produced a token"
                outcomes["kept the valid token"] += 1
            if transport.queued:
                outcomes["held back by the backoff"] += 1  # no request: nothing to fault
                transport.queued.clear()
            now[0] += timedelta(minutes=rng.choice([1, 20, 70, 180]))  # in and out of backoff
        assert sum(transport.injected.values()) == 1000
        assert set(transport.injected) == set(FAULTS)
        now[0] += timedelta(days=1)  # every backoff is over
        for cid in ids:
            connection = service.connections.get(actor, cid)
            assert (connection.status, connection.status_reason) == ("active", None)
            fresh = service.credentials.resolve(actor, cid, stale_token=tokens[cid])
            assert fresh.fields["access_token"] != tokens[cid], "the grant still refreshes"

        victim = ids[0]
        current = service.credentials.resolve(actor, victim).fields["access_token"]
        sandbox.control("revoke")
        requests = sandbox.token_requests("refresh_token")
        with pytest.raises(ConnectionInactive) as caught:
            service.credentials.resolve(actor, victim, stale_token=current)
        assert caught.value.details["reason"] == "revoked"
        assert sandbox.token_requests("refresh_token") == requests + 1, "after one attempt"
    finally:
        runtime.close()
    assert outcomes["kept the valid token"] > 0 and outcomes["held back by the backoff"] > 0
