"""A provider API on loopback (stdlib ``http.server``): answers ``GET /me`` when the
``X-Api-Key`` header holds the accepted key, 401 with a JSON error otherwise."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ACCEPTED = "CANARYlocalprovider0001"

APP_YAML = """\
key: local-crm
name: Local CRM
description: A provider on loopback, used by the end-to-end tests.
docs_url: https://example.com/docs
base_url: "{base_url}"
auth:
  - kind: api_key
    fields:
      required: [api_key]
      properties:
        api_key: {{title: API key, secret: true}}
    apply:
      - {{type: header, name: X-Api-Key, value: "{{api_key}}"}}
    test_request:
      path: /me
      account_label: [user.email]
      error_message: [error.message]
"""


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Send ``body`` as the JSON answer to the handler's request."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/me" and self.headers.get("X-Api-Key") == ACCEPTED:
            answer_json(self, 200, {"user": {"email": "owner@local.test"}})
        else:
            answer_json(self, 401, {"error": {"message": "API key not recognised"}})

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def provider_server(apps_dir: Path) -> Iterator[str]:
    """Serve the fake provider and write its app definition into ``apps_dir``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    apps_dir.mkdir(parents=True, exist_ok=True)
    (apps_dir / "local-crm.yaml").write_text(APP_YAML.format(base_url=base))
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
