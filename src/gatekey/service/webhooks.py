"""Status webhooks: endpoints per project, events written to an outbox in the transaction of
the change, and delivery with signatures, retries and a log.

Delivery is at least once: a batch of deliveries is claimed (compare-and-swap, so one sender
across processes and replicas has each), sent, and each settled on its own. A sender that dies
mid-batch leaves the claims to lapse and those deliveries are sent again; receivers dedupe by the
event ``id``. Batches are fair across projects (``store.webhooks.claim_due``), and nothing one
delivery does (a URL the client cannot use, a refused destination, an unreachable endpoint, an
error of Gatekey's own) stops the batch: it is recorded on that delivery, retried or failed.

An endpoint's URL is checked when it is registered (``egress.preflight``: parsed as the HTTP
client will, and its host held to the egress policy when it resolves), so a URL that can never be
delivered to is refused then with ``invalid_input`` or ``destination_blocked``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx2

from gatekey import egress, ids
from gatekey.domain import webhooks as hooks
from gatekey.errors import (
    DestinationBlocked,
    GatekeyError,
    InvalidFields,
    InvalidId,
    InvalidInput,
    NotFound,
)
from gatekey.models import CreatedWebhook, Webhook, WebhookDelivery
from gatekey.service.base import Actor, ServiceBase
from gatekey.store import audit as audit_rows
from gatekey.store import sealed
from gatekey.store import webhooks as rows

log = logging.getLogger(__name__)

CLAIM = timedelta(seconds=60)
SEND_TIMEOUT = 10.0
PER_PROJECT = 5
"""At most this many deliveries of one project in a batch."""


def _url_refused(why: str) -> InvalidInput:
    return InvalidInput(why, field="url", errors=[{"field": "url", "message": why}])


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

    def _check_webhook_url(self, url: Any) -> str:
        """The URL to store; refuse one the sender could never deliver to."""
        if not isinstance(url, str) or not url.strip() or len(url) > 2000:
            raise _url_refused("url must be an http(s) URL of at most 2000 characters")
        clean = url.strip()
        try:
            parsed = egress.preflight(self.prober.http, clean)  # DestinationBlocked goes through
        except InvalidInput as exc:
            raise _url_refused(exc.message) from None
        if parsed.userinfo:
            raise _url_refused("url must not carry credentials; the signature authenticates")
        return clean

    def add_webhook(
        self, actor: Actor, *, url: Any, events: Any = None, description: Any = ""
    ) -> CreatedWebhook:
        """Register an endpoint; the returned ``secret`` signs every delivery (shown once)."""
        self._authorize(actor, "add_webhook")
        clean_url = self._check_webhook_url(url)
        wanted = _check_events(events)
        if not isinstance(description, str) or len(description) > 200:
            raise InvalidInput("description must be text of at most 200 characters")
        secret = hooks.new_secret()
        webhook_id = ids.new_id("whk")
        box = self.vault.seal(actor.project_id, webhook_id, {"secret": secret})
        now = self.clock()
        with self._changing(actor, "webhook.create", "webhook", webhook_id) as conn:
            rows.insert_endpoint(
                conn,
                {
                    "id": webhook_id,
                    "project_id": actor.project_id,
                    "url": clean_url,
                    "description": description,
                    "events": wanted,
                    **sealed.columns(box),
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
        with self._changing(actor, "webhook.delete", "webhook", webhook_id) as conn:
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
        with self.db.read() as conn:
            found = rows.endpoint(conn, actor.project_id, webhook_id)
        if found is None:
            raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
        self._check_webhook_url(found.url)  # registered before URLs were checked, or the DNS moved
        with self.db.write() as conn:
            if rows.endpoint(conn, actor.project_id, webhook_id) is None:
                raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
            self.outbox.add(
                conn, actor.project_id, hooks.PING, {}, self.clock(), endpoints=[webhook_id]
            )

    # -- sending ----------------------------------------------------------------------------

    def deliver_webhooks(self, limit: int = 20) -> int:
        """Send one fair batch of due deliveries (for the background dispatcher); return how
        many were attempted. One delivery's failure, whatever it is, never stops the others."""
        now = self.clock()
        until = now + CLAIM + timedelta(seconds=SEND_TIMEOUT * limit)
        with self.db.write() as conn:
            claimed = rows.claim_due(
                conn, now, until, limit=limit, per_project=min(limit, PER_PROJECT)
            )
        attempted = 0
        for delivery_id in claimed:
            try:
                attempted += self._deliver(delivery_id)
            except Exception as exc:  # the claim lapses and it is sent again; the type only
                log.error("webhook delivery %s not settled: %s", delivery_id, type(exc).__name__)
        return attempted

    def _deliver(self, delivery_id: str) -> int:
        with self.db.read() as conn:
            row = rows.delivery_with_endpoint(conn, delivery_id)
        if row is None:  # its endpoint was removed meanwhile
            return 0
        now = self.clock()
        status, error, final = self._attempt(row)
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
        return 1

    def _attempt(self, row: Any) -> tuple[int | None, str | None, bool]:
        """Send once: (HTTP status, error or None, whether the error is final). Never raises."""
        try:
            url = egress.destination(row.url)
            secret = str(
                self.vault.open(row.project_id, row.endpoint_id, sealed.sealed_of(row))["secret"]
            )
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "gatekey-webhooks/1",
                "Gatekey-Event": row.event_type,
                "Gatekey-Delivery": row.id,
                "Gatekey-Signature": hooks.signature(
                    secret, int(self.clock().timestamp()), row.body
                ),
            }
            # the status is all a delivery needs: the receiver's body is never read
            with self.prober.http.stream(
                "POST", url, content=row.body, headers=headers, timeout=SEND_TIMEOUT
            ) as response:
                status = response.status_code
        except (DestinationBlocked, InvalidInput) as exc:
            return None, exc.message, True
        except GatekeyError as exc:
            return None, exc.message, False
        except httpx2.HTTPError as exc:
            return None, f"could not reach the endpoint ({type(exc).__name__})", False
        except Exception as exc:  # a bug must cost one delivery, never the batch
            log.error("webhook delivery %s: %s", row.id, type(exc).__name__)
            return None, f"Gatekey could not send it ({type(exc).__name__}); it is retried", False
        if 200 <= status < 300:
            return status, None, False
        return status, f"the endpoint answered HTTP {status}", False
