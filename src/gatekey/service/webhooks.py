"""Status webhooks: endpoints per project, events written to an outbox in the transaction of
the change, and delivery with signatures, retries and a log.

Delivery is at least once: a delivery is claimed for a minute (compare-and-swap, so one sender
across processes and replicas has it), sent, and settled. A sender that dies mid-send leaves
the claim to lapse and the delivery is sent again; receivers dedupe by the event ``id``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2

from gatekey import ids
from gatekey.domain import webhooks as hooks
from gatekey.errors import DestinationBlocked, InvalidFields, InvalidId, InvalidInput, NotFound
from gatekey.models import CreatedWebhook, Webhook, WebhookDelivery
from gatekey.service.base import Actor, ServiceBase
from gatekey.store import audit as audit_rows
from gatekey.store import sealed
from gatekey.store import webhooks as rows

log = logging.getLogger(__name__)

CLAIM = timedelta(seconds=60)
SEND_TIMEOUT = 10.0


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise InvalidFields(
            "url must be an http(s) URL of at most 2000 characters",
            errors=[{"field": "url", "message": "an http(s) URL"}],
        )
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise InvalidFields(
            "url must be an http(s) URL with a host and no credentials in it",
            errors=[{"field": "url", "message": "an http(s) URL with a host"}],
        )
    return url.strip()


def _check_events(events: Any) -> list[str]:
    if events is None:
        return ["*"]
    valid = {*hooks.EVENTS, "*"}
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and e in valid for e in events)
    ):
        raise InvalidFields(
            f"events must be a non-empty list of: {', '.join(sorted(valid))}",
            errors=[{"field": "events", "message": "known event types or '*'"}],
        )
    return sorted(set(events))


class WebhooksMixin(ServiceBase):
    """Register, list and remove endpoints; read their deliveries; send what is due."""

    @staticmethod
    def _check_webhook_id(webhook_id: str) -> None:
        if not isinstance(webhook_id, str) or not ids.is_valid("whk", webhook_id):
            raise InvalidId("webhook ids look like whk_ followed by 26 characters")

    def _webhook_of(self, conn: Any, row: Any) -> Webhook:
        return Webhook(
            id=row.id,
            project_id=row.project_id,
            url=row.url,
            description=row.description,
            events=list(row.events),
            created_at=row.created_at,
            deliveries=rows.counts_of(conn, row.id),
        )

    def add_webhook(
        self, actor: Actor, *, url: Any, events: Any = None, description: Any = ""
    ) -> CreatedWebhook:
        """Register an endpoint; the returned ``secret`` signs every delivery (shown once)."""
        self._authorize(actor, "add_webhook")
        clean_url = _check_url(url)
        wanted = _check_events(events)
        if not isinstance(description, str) or len(description) > 200:
            raise InvalidInput("description must be text of at most 200 characters")
        secret = hooks.new_secret()
        webhook_id = ids.new_id("whk")
        box = self.vault.seal(actor.project_id, webhook_id, {"secret": secret})
        now = self.clock()
        with self.db.write() as conn:
            rows.insert_endpoint(
                conn,
                {
                    "id": webhook_id,
                    "project_id": actor.project_id,
                    "url": clean_url,
                    "description": description,
                    "events": wanted,
                    "secret_ciphertext": box.ciphertext,
                    "dek_wrapped": box.wrapped_key,
                    "kek_id": box.key_id,
                    "created_at": now,
                },
            )
            audit_rows.record_now(
                conn, [self._event(actor, "webhook.create", "webhook", webhook_id, events=wanted)]
            )
            created = self._webhook_of(conn, rows.endpoint(conn, actor.project_id, webhook_id))
        return CreatedWebhook(**created.model_dump(), secret=secret)

    def list_webhooks(self, actor: Actor) -> list[Webhook]:
        self._authorize(actor, "list_webhooks")
        with self.db.read() as conn:
            return [self._webhook_of(conn, r) for r in rows.endpoints_of(conn, actor.project_id)]

    def delete_webhook(self, actor: Actor, webhook_id: str) -> None:
        self._authorize(actor, "delete_webhook")
        self._check_webhook_id(webhook_id)
        with self.db.write() as conn:
            if not rows.remove_endpoint(conn, actor.project_id, webhook_id):
                raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
            audit_rows.record_now(
                conn, [self._event(actor, "webhook.delete", "webhook", webhook_id)]
            )

    def webhook_deliveries(
        self, actor: Actor, webhook_id: str, limit: int = 50
    ) -> list[WebhookDelivery]:
        """The delivery log of an endpoint, newest first."""
        self._authorize(actor, "webhook_deliveries")
        self._check_webhook_id(webhook_id)
        with self.db.read() as conn:
            if rows.endpoint(conn, actor.project_id, webhook_id) is None:
                raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
            found = rows.deliveries_of(conn, webhook_id, max(1, min(limit, 500)))
        return [WebhookDelivery.model_validate(r._asdict()) for r in found]

    def ping_webhook(self, actor: Actor, webhook_id: str) -> None:
        """Queue a ``webhook.ping`` event to that endpoint only."""
        self._authorize(actor, "ping_webhook")
        self._check_webhook_id(webhook_id)
        with self.db.write() as conn:
            if rows.endpoint(conn, actor.project_id, webhook_id) is None:
                raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
            self._enqueue_event(conn, actor.project_id, hooks.PING, {}, [webhook_id])

    # -- sending ----------------------------------------------------------------------------

    def deliver_webhooks(self, limit: int = 20) -> int:
        """Send the deliveries that are due (for the background dispatcher); return how many."""
        now = self.clock()
        with self.db.read() as conn:
            candidates = [r.id for r in rows.due(conn, now, limit)]
        sent = 0
        for delivery_id in candidates:
            with self.db.write() as conn:
                if not rows.claim(conn, delivery_id, now, now + CLAIM):
                    continue
                row = rows.delivery_with_endpoint(conn, delivery_id)
            if row is not None:
                self._send_delivery(row)
                sent += 1
        return sent

    def _send_delivery(self, row: Any) -> None:
        secret = str(
            self.vault.open(row.project_id, row.endpoint_id, sealed.sealed_of(row))["secret"]
        )
        now = self.clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "gatekey-webhooks/1",
            "Gatekey-Event": row.event_type,
            "Gatekey-Delivery": row.id,
            "Gatekey-Signature": hooks.signature(secret, int(now.timestamp()), row.body),
        }
        status: int | None = None
        error: str | None = None
        final = False
        try:
            response = self.prober.http.post(
                row.url, content=row.body, headers=headers, timeout=SEND_TIMEOUT
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"the endpoint answered HTTP {status}"
        except DestinationBlocked as exc:
            error, final = exc.message, True
        except httpx2.HTTPError as exc:
            error = f"could not reach the endpoint ({type(exc).__name__})"
        attempts = row.attempts + 1
        if error is None:
            values: dict[str, Any] = {
                "status": "delivered",
                "attempts": attempts,
                "last_status": status,
                "last_error": None,
                "delivered_at": now,
                "next_attempt_at": None,
            }
        else:
            delay = None if final else hooks.retry_delay(attempts)
            values = {
                "status": "pending" if delay is not None else "failed",
                "attempts": attempts,
                "last_status": status,
                "last_error": error[:300],
                "next_attempt_at": now + delay if delay is not None else None,
            }
            log.info("webhook delivery %s failed (attempt %d): %s", row.id, attempts, error)
        with self.db.write() as conn:
            rows.finish(conn, row.id, values)
