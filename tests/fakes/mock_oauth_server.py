"""A real OAuth2 authorization server for tests: the npm package ``oauth2-mock-server``
(pinned in ``package.json``, installed with ``npm ci``) run by
``tests/fakes/oauth2_mock_server.mjs`` in a ``node`` subprocess on 127.0.0.1.

What the server does (oauth2-mock-server 9.x, plus the wrapper script):

* ``GET /authorize`` never shows a login page: it answers ``302`` straight to
  ``redirect_uri`` with ``code`` (a UUID) and ``state`` (when sent and non-empty).
  ``iss`` is only added after :meth:`MockOAuthServer.set_authorize_iss`. Use
  :meth:`MockOAuthServer.authorize` to "click" an authorization URL.
* ``POST /token`` checks no client credentials, no ``redirect_uri`` and no code:
  any ``code`` and any ``refresh_token`` are accepted. PKCE is only checked when
  the request carries ``code_verifier``; then the code must have had a
  ``code_challenge`` at ``/authorize`` (consumed by the first attempt) and the
  verifier must match it (``S256`` or ``plain``), else ``400 invalid_grant``.
* Token responses: ``access_token`` (RS256 JWT), ``token_type: "Bearer"``,
  ``expires_in`` (3600 unless :meth:`MockOAuthServer.set_token_ttl`), ``scope``,
  and for ``authorization_code`` / ``refresh_token`` grants a fresh
  ``refresh_token`` (a new UUID every time) and an ``id_token``.
* ``POST /revoke`` always answers ``200`` with an empty body and revokes nothing;
  ``GET /userinfo`` answers ``{"sub": "johndoe"}`` whatever the bearer token.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx2

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().with_name("oauth2_mock_server.mjs")
PACKAGE = "oauth2-mock-server"


class MockOAuthServerError(RuntimeError):
    """The mock OAuth server could not be started or controlled."""


class MockOAuthServer:
    """Run the mock authorization server for the duration of a ``with`` block.

    >>> with MockOAuthServer() as oauth:
    ...     oauth.fail_next_token(400, {"error": "invalid_grant"})
    """

    def __init__(
        self,
        *,
        port: int = 0,
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        repo_root: Path = REPO_ROOT,
    ) -> None:
        self._port_arg = port
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._repo_root = repo_root
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._control: httpx2.Client | None = None
        self._issuer: str | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> MockOAuthServer:
        if self._proc is not None:
            raise MockOAuthServerError("the mock OAuth server is already running")
        node = shutil.which("node")
        if node is None:
            raise MockOAuthServerError("`node` is not on PATH; the mock OAuth server needs Node.js")
        if not (self._repo_root / "node_modules" / PACKAGE / "package.json").is_file():
            raise MockOAuthServerError(
                f"{self._repo_root / 'node_modules' / PACKAGE} is missing: "
                f"run `npm ci` in {self._repo_root}"
            )
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [node, str(SCRIPT), str(self._port_arg), "--watch-stdin"],
            cwd=self._repo_root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        try:
            ready = self._read_ready_line(self._proc)
            self._issuer = str(ready["issuer"]).rstrip("/")
            self._port = int(ready["port"])
        except BaseException:
            self.stop()
            raise
        self._control = httpx2.Client(base_url=self._issuer, timeout=10.0, trust_env=False)
        return self

    def _read_ready_line(self, proc: subprocess.Popen[str]) -> dict[str, Any]:
        assert proc.stdout is not None
        stdout = proc.stdout
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self._startup_timeout)
        except queue.Empty:
            raise MockOAuthServerError(
                f"the mock OAuth server did not start within {self._startup_timeout}s"
                f"{self._stderr_tail()}"
            ) from None
        try:
            ready: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            proc.wait(timeout=self._stop_timeout)
            raise MockOAuthServerError(
                f"the mock OAuth server failed to start (exit code {proc.returncode})"
                f"{self._stderr_tail()}"
            ) from None
        return ready

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read()[-4000:].strip()
        return f":\n{text}" if text else ""

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=self._stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=self._stop_timeout)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> MockOAuthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def issuer(self) -> str:
        """``http://127.0.0.1:<port>``, no trailing slash (the ``iss`` of every JWT)."""
        if self._issuer is None:
            raise MockOAuthServerError("the mock OAuth server is not running")
        return self._issuer

    @property
    def port(self) -> int:
        if self._port is None:
            raise MockOAuthServerError("the mock OAuth server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        return self.issuer

    @property
    def authorization_url(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def revocation_url(self) -> str:
        return f"{self.issuer}/revoke"

    @property
    def userinfo_url(self) -> str:
        return f"{self.issuer}/userinfo"

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/introspect"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # ------------------------------------------------------------------ control

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> Any:
        if self._control is None:
            raise MockOAuthServerError("the mock OAuth server is not running")
        response = self._control.request(method, f"/_control/{path}", json=payload)
        if response.status_code != 200:
            raise MockOAuthServerError(
                f"control call {method} {path} failed: {response.status_code} {response.text}"
            )
        return response.json()

    def fail_next_token(
        self,
        status: int = 400,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Make the next token-endpoint response ``status`` with JSON ``body``.

        One-shot; calls queue up, one per later token request. The request is still
        processed first (a PKCE challenge is consumed), only the answer is replaced.
        """
        self._call(
            "POST",
            "next-token-response",
            {
                "status": status,
                "body": dict(body) if body is not None else {"error": "invalid_grant"},
                "headers": dict(headers or {}),
            },
        )

    def set_token_ttl(self, seconds: int | None) -> None:
        """``expires_in`` and JWT ``exp`` of later tokens; ``None`` restores 3600."""
        self._call("POST", "token-ttl", {"seconds": seconds})

    def fail_next_authorize(
        self, error: str = "access_denied", description: str | None = None
    ) -> None:
        """Make the next ``/authorize`` redirect carry ``error`` instead of ``code``."""
        payload: dict[str, Any] = {"error": error}
        if description is not None:
            payload["error_description"] = description
        self._call("POST", "next-authorize-error", payload)

    def set_authorize_iss(self, enabled: bool = True) -> None:
        """Add ``iss`` (RFC 9207) to authorization redirects."""
        self._call("POST", "authorize-iss", {"enabled": enabled})

    def stats(self) -> dict[str, Any]:
        """Counters since start or :meth:`reset`.

        ``token_requests``; ``grants`` (by ``grant_type``); ``token_statuses``;
        ``authorize_requests``; ``userinfo_requests``; ``revocation_requests``;
        ``introspection_requests``; ``token_log`` and ``revocation_log`` (one entry
        per request: ``params`` as sent, ``client_auth`` with ``method`` of
        ``client_secret_basic`` / ``client_secret_post`` / ``none``, ``client_id``,
        ``client_secret``; ``grant_type`` and ``status`` for token requests).
        """
        result: dict[str, Any] = self._call("GET", "stats")
        return result

    def reset(self) -> None:
        """Forget queued faults, TTL and ``iss`` settings, counters and logs."""
        self._call("POST", "reset")

    def authorize(self, url: str) -> httpx2.URL:
        """Open an authorization URL as the user would and return the redirect target
        (``redirect_uri`` with ``code``/``state`` or ``error``), without following it."""
        if self._control is None:
            raise MockOAuthServerError("the mock OAuth server is not running")
        response = self._control.get(url, follow_redirects=False)
        if response.status_code != 302:
            raise MockOAuthServerError(
                f"/authorize answered {response.status_code}, not 302: {response.text}"
            )
        return httpx2.URL(response.headers["location"])
