"""PostgreSQL restarts under load: three replicas, eight clients, twelve OAuth connections whose
tokens live seconds, at a provider that rotates refresh tokens.

Five outages of a private cluster (``pg_ctl restart`` and ``stop`` + ``start``, ``-m fast`` and
``-m immediate``) while the clients resolve credentials and the tokens keep falling due. What a
user would notice, and what the test counts:

- every request is answered 200, or 503 ``database_unavailable`` (problem+json with
  ``Retry-After``) while the database is down: never a 500, never a hang (a 20 s guard),
  and each outage is met by requests in flight;
- after each outage every client is served again before the next outage begins;
- afterwards no connection is Inactive, the refresh token each one holds is the one the
  provider knows (no grant lost), and each still refreshes at the provider.

Once with a provider that answers at once, once with one taking 2.5 s per token request, so
that most outages catch refreshes in flight.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from multiprocessing.process import BaseProcess
from pathlib import Path

import httpx2
import pytest
import uvicorn

from gatekey.oauth.sandbox import sandbox_app_definition
from gatekey.runtime import open_runtime
from gatekey.server import create_app
from gatekey.settings import Settings
from tests.fakes.keys import MASTER_KEY
from tests.fakes.postgres_cluster import PrivatePostgres
from tests.fakes.sandbox import Sandbox, connect, sandbox_project
from tests.fakes.servers import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # an outage under load

REPLICAS = 3
CLIENTS = 8
CONNECTIONS = 12
HANG = 20.0
#: (shutdown mode, seconds the server stays down; 0: ``pg_ctl restart``)
OUTAGES = [("fast", 0.0), ("immediate", 0.0), ("fast", 1.5), ("immediate", 1.5), ("fast", 0.0)]


def _settings(home: Path, url: str) -> Settings:
    return Settings(
        home=home,
        database_url=url,
        master_keys=MASTER_KEY,
        audit_flush_interval=0.05,
        refresh_interval=2.0,
        log_level="WARNING",
    )


def _replica(home: str, url: str, sandbox_url: str, port: int) -> None:
    """One replica, as ``gatekey serve`` runs it: the API plus the background refresher."""
    runtime = open_runtime(
        _settings(Path(home), url), extra_apps=[sandbox_app_definition(sandbox_url)], migrate=False
    )
    uvicorn.run(
        create_app(runtime, close_runtime=True, run_workers=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=None,
        access_log=False,
    )


def _outcome(http: httpx2.Client, base: str, connection_id: str, key: str) -> str:
    """Resolve once; return ``ok``, ``unavailable`` (a proper 503), or what went wrong."""
    try:
        response = http.post(
            f"{base}/api/v1/connections/{connection_id}/credentials",
            headers={"Authorization": f"Bearer {key}"},
        )
    except httpx2.TimeoutException:
        return "hung"
    except httpx2.TransportError as exc:
        return f"transport error {type(exc).__name__}"
    media = response.headers.get("content-type", "").split(";")[0]
    if response.status_code == 200 and response.json()["fields"].get("access_token"):
        return "ok"
    code = response.json().get("code") if media == "application/problem+json" else None
    if response.status_code == 503 and code == "database_unavailable":
        return "unavailable" if response.headers.get("retry-after") else "503 without Retry-After"
    return f"{response.status_code} {media} {code}"


class _Client(threading.Thread):
    """Resolves the connections in turn, on each replica in turn, until ``stop``."""

    def __init__(
        self, number: int, bases: list[str], ids: list[str], key: str, stop: threading.Event
    ) -> None:
        super().__init__(name=f"client-{number}", daemon=True)
        self.number, self.bases, self.ids, self.key, self.stop = number, bases, ids, key, stop
        self.answers: list[tuple[float, float, str]] = []  # (began, ended, outcome)
        self.lock = threading.Lock()

    def run(self) -> None:
        with httpx2.Client(timeout=HANG, trust_env=False) as http:
            n = 0
            while not self.stop.is_set():
                base = self.bases[(self.number + n) % len(self.bases)]
                connection_id = self.ids[(self.number * 5 + n) % len(self.ids)]
                began = time.monotonic()
                outcome = _outcome(http, base, connection_id, self.key)
                with self.lock:
                    self.answers.append((began, time.monotonic(), outcome))
                n += 1
                self.stop.wait(0.02)

    def served_since(self, moment: float) -> bool:
        with self.lock:
            return any(began > moment and outcome == "ok" for began, _, outcome in self.answers)


def _wait_healthy(bases: list[str], processes: list[BaseProcess]) -> None:
    deadline = time.monotonic() + 120
    for base in bases:
        while True:
            assert time.monotonic() < deadline, "a replica did not start"
            assert all(p.is_alive() for p in processes), "a replica died on start"
            try:
                if httpx2.get(f"{base}/healthz", trust_env=False).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.2)


@pytest.mark.parametrize(
    ("delay_ms", "ttl"),
    [pytest.param(0, 6, id="instant-provider"), pytest.param(2500, 10, id="slow-provider")],
)
def test_restarts_under_load_lose_no_grant_and_answer_503_meanwhile(
    tmp_path: Path, private_cluster: PrivatePostgres, sandbox: Sandbox, delay_ms: int, ttl: int
) -> None:
    url = private_cluster.create_database(f"outage_{delay_ms}")
    sandbox.control("reset")
    sandbox.control("ttl", seconds=ttl)
    runtime = open_runtime(_settings(tmp_path / "home", url), extra_apps=[sandbox.app])
    replicas: list[BaseProcess] = []
    try:
        service = runtime.service
        actor = sandbox_project(service)
        ids = [connect(service, actor, sandbox, name=f"Outage {n}") for n in range(CONNECTIONS)]
        key = service.access.create_key(actor, name="workers", role="runtime").token
        sandbox.control("slow", ms=delay_ms)
        ports = [free_port() for _ in range(REPLICAS)]
        context = multiprocessing.get_context("spawn")
        replicas = [
            context.Process(
                target=_replica,
                args=(str(tmp_path / f"replica-{n}"), url, sandbox.url, port),
                daemon=True,
            )
            for n, port in enumerate(ports)
        ]
        for process in replicas:
            process.start()
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        _wait_healthy(bases, replicas)

        stop = threading.Event()
        clients = [_Client(n, bases, ids, key, stop) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        unserved: list[str] = []
        windows: list[tuple[float, float]] = []
        try:
            time.sleep(ttl)  # every token falls due and is refreshed under load
            for number, (mode, downtime) in enumerate(OUTAGES, 1):
                down = time.monotonic()
                if downtime:
                    private_cluster.stop(mode)
                    time.sleep(downtime)
                    private_cluster.start()
                else:
                    private_cluster.restart(mode)
                back = time.monotonic()
                windows.append((down, back))
                deadline = back + 3 * HANG
                while not all(c.served_since(back) for c in clients):
                    if time.monotonic() > deadline:
                        unserved.append(f"outage {number} ({mode}, {downtime} s)")
                        break
                    time.sleep(0.05)
                time.sleep(1.5)  # refreshes are in flight again before the next outage
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=HANG + 10)
        for process in replicas:
            process.terminate()
        for process in replicas:
            process.join(timeout=40)
        sandbox.control("slow", ms=0)

        answers = [answer for c in clients for answer in c.answers]
        outcomes = Counter(outcome for _, _, outcome in answers)
        print(f"answers: {dict(outcomes)}; token requests: {sandbox.token_requests()}")
        wrong = {k: n for k, n in outcomes.items() if k not in ("ok", "unavailable")}
        assert not wrong, f"answers other than 200 or a proper 503: {dict(outcomes)}"
        felt = [sum(b < back and e > down for b, e, _ in answers) for down, back in windows]
        assert all(felt), f"requests in flight during each outage: {felt}"
        assert not unserved, f"some clients were not served again after {unserved}"
        statuses = Counter(
            (c.status, c.status_reason) for c in (service.connections.get(actor, i) for i in ids)
        )
        assert statuses == {("active", None): CONNECTIONS}, statuses
        live = sandbox.state.refresh_index
        lost = [
            i for i in ids if service.credentials.open(actor, i).secret["refresh_token"] not in live
        ]
        assert lost == [], f"{len(lost)} of {CONNECTIONS} grants lost their refresh token"
        requests = sandbox.token_requests("refresh_token")
        for connection_id in ids:
            current = service.credentials.resolve(actor, connection_id).fields["access_token"]
            fresh = service.credentials.resolve(actor, connection_id, stale_token=current)
            assert fresh.fields["access_token"] != current
        assert sandbox.token_requests("refresh_token") >= requests + CONNECTIONS
    finally:
        for process in replicas:
            if process.is_alive():
                process.kill()
        sandbox.control("slow", ms=0)
        sandbox.control("ttl", seconds=3600)
        runtime.close()
