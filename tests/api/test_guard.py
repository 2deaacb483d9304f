"""The body checks every request goes through, over a real HTTP server: multipart refused
before any of it is read, and chunked bodies held to the size limit like declared ones."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from gatekey.api.guard import MAX_BODY
from gatekey.runtime import Runtime
from gatekey.server import create_app
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
) -> tuple[int, bytes]:
    """POST a chunked body (no Content-Length); return the status and the response bytes.

    With ``finish=False`` the body never ends, as the probe's in-flight upload did.
    """
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {server[0]}:{server[1]}\r\n"
        f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
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
