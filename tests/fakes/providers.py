"""A fake of the providers' APIs, as an ``httpx2`` transport the service is handed.

It answers the catalog's test requests the way each provider documents: 200 with an account
body for the accepted credentials, 401 with the provider's error shape otherwise. ``outage``
makes it answer 503, ``unreachable`` makes it fail to connect as an offline machine does;
``echo`` makes Stripe's refusal repeat the key it was sent, as some providers do.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:
    from gatekey.models import Connection
    from gatekey.service import Actor, Service

GOOD_SENDGRID = "SG.goodkey1234567890.CANARYsendgridSECRET0001"
GOOD_STRIPE = "sk_test_CANARYstripeSECRET0002"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
GOOD_TWILIO_TOKEN = "CANARYtwilioSECRET0003"


@dataclass
class FakeProviders:
    """Accepts the tokens in ``accepted``; records every request it saw."""

    accepted: set[str] = field(default_factory=lambda: {GOOD_SENDGRID, GOOD_STRIPE})
    basic_accepted: set[tuple[str, str]] = field(
        default_factory=lambda: {(TWILIO_SID, GOOD_TWILIO_TOKEN)}
    )
    outage: bool = False
    unreachable: bool = False
    echo: bool = False
    requests: list[httpx2.Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            self.requests.append(request)
        if self.unreachable:  # as on a machine with no network: the name cannot be looked up
            offline = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            raise httpx2.ConnectError(str(offline), request=request) from offline
        if self.outage:
            return httpx2.Response(503, text="<html>Service Unavailable</html>")
        auth = request.headers.get("authorization", "")
        host = request.url.host
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if (user, password) in self.basic_accepted:
                return httpx2.Response(200, json={"sid": user, "friendly_name": "Acme Twilio"})
            return httpx2.Response(401, json={"code": 20003, "message": "Authenticate"})
        token = auth.removeprefix("Bearer ")
        if host == "api.sendgrid.com":
            if token in self.accepted:
                return httpx2.Response(200, json={"scopes": ["mail.send"]})
            body = {"errors": [{"field": None, "message": "authorization required"}]}
            return httpx2.Response(401, json=body)
        if host == "api.stripe.com":
            if token in self.accepted:
                return httpx2.Response(200, json={"id": "acct_1", "email": "billing@acme.test"})
            shown = token if self.echo else "sk_test_****"
            return httpx2.Response(
                401, json={"error": {"message": f"Invalid API Key provided: {shown}"}}
            )
        if token in self.accepted:
            return httpx2.Response(200, json={"email": "someone@acme.test"})
        return httpx2.Response(401, content=json.dumps({"message": "unauthorized"}))


def sendgrid_connection(
    service: Service, actor: Actor, name: str = "SendGrid - Production", **extra: Any
) -> Connection:
    """A SendGrid connection with the good key, checked at the fake provider unless told."""
    return service.connections.create(
        actor, app="sendgrid", name=name, fields={"api_key": GOOD_SENDGRID}, **extra
    )


def twilio_connection(
    service: Service, actor: Actor, name: str = "Twilio", **extra: Any
) -> Connection:
    """A Twilio connection (basic auth: a public account SID, a secret token) the fake accepts."""
    fields = {"account_sid": TWILIO_SID, "auth_token": GOOD_TWILIO_TOKEN}
    return service.connections.create(actor, app="twilio", name=name, fields=fields, **extra)
