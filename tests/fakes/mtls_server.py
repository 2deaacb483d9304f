"""An API on loopback that requires a client certificate (mutual TLS), as open-banking and
some payment APIs do: Python's ``ssl`` with ``CERT_REQUIRED`` against the test CA
(``tests.fakes.pki``), serving werkzeug. A client without a certificate from that CA fails
the handshake. ``GET /me`` also needs ``Authorization: Bearer <api_key>`` and answers the
certificate's common name.
"""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fakes import pki


def _server_context(folder: Path) -> ssl.SSLContext:
    server = pki.issued("mtls-server", server=True)
    cert, key = folder / "server.pem", folder / "server.key"
    cert.write_text(server.cert)
    key.write_text(server.key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(cadata=pki.authority().cert)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _common_name(peer: dict[str, Any]) -> str | None:
    for rdn in peer.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


@contextmanager
def mtls_server(api_key: str) -> Iterator[str]:
    """Serve the API on a loopback port over TLS; yields its ``https://`` base URL."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        peer = environ["werkzeug.socket"].getpeercert() or {}
        if request.headers.get("Authorization") != f"Bearer {api_key}":
            response = Response(json.dumps({"message": "bad API key"}), 401)
        elif request.path == "/me":
            response = Response(json.dumps({"client": _common_name(peer)}))
        else:
            response = Response("not found", 404)
        response.content_type = "application/json"
        return response(environ, start_response)

    with tempfile.TemporaryDirectory() as folder:
        server = make_server(
            "127.0.0.1", 0, app, threaded=True, ssl_context=_server_context(Path(folder))
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"https://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()


def trust_test_ca(folder: Path) -> Path:
    """A CA bundle file holding the test CA, for ``SSL_CERT_FILE``."""
    path = folder / "test-ca.pem"
    path.write_text(pki.authority().cert)
    return path
