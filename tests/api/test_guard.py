"""The body checks every request goes through, over a real HTTP server: multipart refused
before any of it is read, and chunked bodies held to the size limit like declared ones (the
proxy's included, which its route also holds to the proxy's own limit)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Scope

from gatekey.api.guard import MAX_BODY, Guard
from gatekey.api.inputs import InputGuard
from gatekey.runtime import Runtime
from gatekey.server import create_app
from gatekey.service import Actor
from gatekey.service.proxy import MAX_BODY as PROXY_MAX_BODY
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.servers import serve

FORM_ROUTES = [
    "/signin",
    "/signout",
    "/connections",
    "/connections/conn_01J0000000000000000000000/rename",
    "/settings/oauth-clients",
    "/runs/run_01J0000000000000000000000/retry",
    "/api/v1/connections",
]
FILE_PART = (
    b'--gk\r\nContent-Disposition: form-data; name="f"; filename="logging.ini"\r\n'
    b"Content-Type: text/plain\r\n\r\n[loggers]\nkeys=root\n"
)


@pytest.fixture
def base(runtime: Runtime) -> Iterator[tuple[str, int]]:
    with serve(create_app(runtime)) as url:
        parts = urlsplit(url)
        assert parts.hostname and parts.port
        yield parts.hostname, parts.port


def _post(
    server: tuple[str, int],
    path: str,
    content_type: str,
    chunks: list[bytes],
    *,
    finish: bool = True,
    authorization: str = "",
) -> tuple[int, bytes]:
    """POST a chunked body (no Content-Length); return the status and the response bytes.

    With ``finish=False`` the body never ends, as the probe's in-flight upload did.
    """
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {server[0]}:{server[1]}\r\n"
        + (f"Authorization: {authorization}\r\n" if authorization else "")
        + (f"Content-Type: {content_type}\r\n" if content_type else "")
        + "Transfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection(server, timeout=10) as sock:  # 10 s: a hang guard only
        try:
            sock.sendall(head.encode())
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if finish:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent
        response = b""
        while not _complete(response):
            data = sock.recv(65536)
            if not data:
                break
            response += data
    return int(response.split(b" ", 2)[1]), response


def _complete(response: bytes) -> bool:
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True


@pytest.mark.parametrize("path", FORM_ROUTES)
def test_multipart_is_refused_before_its_body_is_read(base: tuple[str, int], path: str) -> None:
    status, response = _post(
        base, path, "multipart/form-data; boundary=gk", [FILE_PART], finish=False
    )
    assert status == 415
    assert b"unsupported_media_type" in response


def test_the_proxy_still_takes_multipart_bodies(base: tuple[str, int]) -> None:
    status, _ = _post(
        base,
        "/api/v1/proxy/conn_01J0000000000000000000000/files",
        "multipart/form-data; boundary=gk",
        [FILE_PART + b"\r\n--gk--\r\n"],
    )
    assert status == 401, "refused for its missing API key, not for its media type"


def test_a_chunked_form_over_the_limit_is_refused(base: tuple[str, int]) -> None:
    chunk = b"next=" + b"a" * (64 * 1024)
    chunks = [b"api_key=x&", *[b"&" + chunk] * (MAX_BODY // len(chunk) + 2)]
    status, response = _post(base, "/signin", "application/x-www-form-urlencoded", chunks)
    assert status == 413
    assert b"payload_too_large" in response


def test_a_chunked_form_within_the_limit_reaches_the_route(base: tuple[str, int]) -> None:
    status, response = _post(
        base, "/signin", "application/x-www-form-urlencoded", [b"api_key=", b"gk_wrong"]
    )
    assert status == 401 and b"text/html" in response


def test_a_chunked_proxy_body_over_the_limit_is_refused_unread(
    base: tuple[str, int], runtime: Runtime, actor: Actor
) -> None:
    """The body never ends: only a server that stops reading at the limit can answer."""
    key = runtime.service.access.create_key(actor, name="worker", role="runtime")
    sendgrid = runtime.service.connections.create(
        actor, app="sendgrid", name="SG", fields={"api_key": GOOD_SENDGRID}
    )
    chunk = b"a" * (64 * 1024)
    status, response = _post(
        base,
        f"/api/v1/proxy/{sendgrid.id}/v3/mail/send",
        "application/octet-stream",
        [chunk] * (MAX_BODY // len(chunk) + 2),
        finish=False,
        authorization=f"Bearer {key.token}",
    )
    assert status == 413 and b"payload_too_large" in response


def test_the_proxy_route_itself_stops_reading_at_the_proxy_limit(
    runtime: Runtime, actor: Actor, providers: FakeProviders
) -> None:
    """Without the guards in front (whose smaller limit comes first): an endless chunked body
    is answered 413 once it passes the proxy's limit, with at most one chunk over it read,
    and nothing is sent to the app."""
    key = runtime.service.access.create_key(actor, name="worker", role="runtime")
    sendgrid = runtime.service.connections.create(
        actor, app="sendgrid", name="SG", fields={"api_key": GOOD_SENDGRID}
    )
    app = create_app(runtime)
    app.user_middleware = [m for m in app.user_middleware if m.cls not in (Guard, InputGuard)]
    chunk = b"a" * (256 * 1024)
    pulled = 0

    async def receive() -> Message:
        nonlocal pulled
        pulled += len(chunk)
        assert pulled <= 2 * PROXY_MAX_BODY, "read on past the limit"  # a hang guard
        return {"type": "http.request", "body": chunk, "more_body": True}

    answered: list[Message] = []

    async def send(message: Message) -> None:
        answered.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/api/v1/proxy/{sendgrid.id}/v3/mail/send",
        "raw_path": f"/api/v1/proxy/{sendgrid.id}/v3/mail/send".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {key.token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "app": app,
    }
    sent_before = len(providers.requests)
    asyncio.run(app(scope, receive, send))
    assert answered[0]["status"] == 413
    problem = json.loads(answered[1]["body"])
    assert problem["code"] == "payload_too_large"
    assert problem["detail"] == "the request body is larger than 10 MiB"
    assert PROXY_MAX_BODY < pulled <= PROXY_MAX_BODY + len(chunk)
    assert len(providers.requests) == sent_before


@pytest.mark.parametrize(
    ("content_type", "came"),
    [
        ("application/x-www-form-urlencoded", "came as application/x-www-form-urlencoded"),
        ("text/plain", "came as text/plain"),
        ("text/json", "came as text/json"),
        ("", "came with no Content-Type"),
    ],
)
def test_a_body_to_the_api_that_is_not_json_is_told_to_be(
    base: tuple[str, int], content_type: str, came: str
) -> None:
    """``curl -d`` sends a form: the answer says to send JSON, in one chunk or several."""
    body = b'{"app": "sendgrid", "name": "x"}'
    for chunks in ([body], [body[:5], body[5:]]):
        status, response = _post(base, "/api/v1/connections", content_type, chunks)
        assert status == 415
        problem = json.loads(response.partition(b"\r\n\r\n")[2])
        assert problem["code"] == "unsupported_media_type"
        assert problem["detail"].startswith("send application/json")
        assert came in problem["detail"]


def test_json_types_and_empty_bodies_reach_the_api_s_routes(
    client: TestClient, admin: dict[str, str]
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        headers = {**admin, "Content-Type": content_type}
        answer = client.post("/api/v1/connections", content=b'{"name": "x"}', headers=headers)
        assert answer.json()["errors"] == [{"field": "app", "message": "Field required"}]
    form = {**admin, "Content-Type": "application/x-www-form-urlencoded"}
    empty = client.post("/api/v1/connections/conn_01J00000000000000000000000/test", headers=form)
    assert empty.json()["code"] == "not_found", "no body: nothing to refuse"


def test_the_proxy_passes_any_body_on(base: tuple[str, int]) -> None:
    status, _ = _post(
        base, "/api/v1/proxy/conn_01J0000000000000000000000/x", "text/plain", [b"hello"]
    )
    assert status == 401, "refused for its missing API key, not for its media type"
