"""``gatekey.unreachable``: each way a request gets no answer, caused for real through the
guarded transport every outbound request uses, said in plain words with the host only."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable, Iterator

import httpx2
import pytest

from gatekey.egress import EgressPolicy, GuardedTransport, IPAddress
from gatekey.errors import Hint
from gatekey.unreachable import cause, overloaded, unreachable
from tests.fakes.servers import free_port

LOOPBACK = EgressPolicy(["127.0.0.1", "api.example.com"])


def _failure(url: str, resolver: Callable[[str, int], list[IPAddress]] | None = None) -> Exception:
    options = {} if resolver is None else {"resolver": resolver}
    transport = GuardedTransport(LOOPBACK, **options)  # type: ignore[arg-type]
    with httpx2.Client(transport=transport, timeout=0.5) as client:
        try:
            client.get(url)
        except httpx2.HTTPError as exc:
            return exc
    raise AssertionError("the request was answered")


def _resolver_failing(code: int, words: str) -> Callable[[str, int], list[IPAddress]]:
    def resolve(host: str, port: int) -> list[IPAddress]:
        raise socket.gaierror(code, words)

    return resolve


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted: list[socket.socket] = []
        done = threading.Event()

        def accept() -> None:
            server.settimeout(0.1)
            while not done.is_set():
                try:
                    accepted.append(server.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield int(server.getsockname()[1])
        done.set()
        thread.join()
        for sock in accepted:
            sock.close()


def test_a_closed_port_is_connection_refused() -> None:
    assert cause(_failure(f"http://127.0.0.1:{free_port()}/")) == "connection refused"


def test_a_name_nobody_knows_is_not_resolved() -> None:
    failed = _failure(
        "https://api.example.com/v3/scopes",
        _resolver_failing(socket.EAI_NONAME, "Name or service not known"),
    )
    assert cause(failed) == "name not resolved"


def test_a_machine_without_a_network_says_no_network() -> None:
    """Offline, looking the name up fails for now (EAI_AGAIN); or there is no route at all."""
    failed = _failure(
        "https://api.example.com/v3/scopes",
        _resolver_failing(socket.EAI_AGAIN, "Temporary failure in name resolution"),
    )
    assert cause(failed) == "no network"
    no_route = httpx2.ConnectError("unreachable")
    no_route.__cause__ = OSError(errno.ENETUNREACH, "Network is unreachable")
    assert cause(no_route) == "no network"


def test_a_server_that_never_answers_timed_out(silent: int) -> None:
    assert cause(_failure(f"http://127.0.0.1:{silent}/")) == "timed out"


def test_tls_to_a_port_that_speaks_no_tls_is_a_tls_failure() -> None:
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen()

    def answer_in_clear() -> None:
        conn, _ = plain.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_in_clear, daemon=True)
    thread.start()
    try:
        failed = _failure(f"https://127.0.0.1:{plain.getsockname()[1]}/")
    finally:
        thread.join(timeout=5)
        plain.close()
    assert cause(failed) == "TLS failure"


def test_the_error_names_the_host_never_the_url_and_keeps_the_hint() -> None:
    failed = _failure(
        "https://api.example.com/v1/me?api_key=CANARYquery0006",
        _resolver_failing(socket.EAI_AGAIN, "Temporary failure in name resolution"),
    )
    assert isinstance(failed, httpx2.HTTPError)
    error = unreachable(failed, app="example", hint=Hint("skip_test", {"app": "example"}))
    assert error.message == "could not reach api.example.com: no network; try again later"
    assert error.details == {"app": "example", "host": "api.example.com", "cause": "no network"}
    assert error.hint == Hint("skip_test", {"app": "example"})
    assert "CANARY" not in repr(error) and "/v1/me" not in error.message


def test_an_error_without_its_request_names_the_app() -> None:
    error = unreachable(httpx2.ConnectError("boom"), app="sendgrid", what="SendGrid")
    assert error.message == "could not reach SendGrid: network error; try again later"


def test_an_answer_that_means_not_now_is_provider_unavailable_with_retry_after() -> None:
    busy = httpx2.Response(429, headers={"Retry-After": "7"})
    error = overloaded(busy, who="SendGrid", app="sendgrid", context=" to the revocation")
    assert error is not None
    assert error.message == "SendGrid answered 429 to the revocation; try again later"
    assert error.retry_after == 7.0 and error.details["provider_status"] == 429
    assert overloaded(httpx2.Response(503), who="X", app="x") is not None
    assert overloaded(httpx2.Response(401), who="X", app="x") is None
