"""Status webhooks: endpoints per project, events written to an outbox in the transaction of
the change, and delivery with signatures, retries and a log.

Sending them is ``service.deliveries``.

An endpoint's URL is checked when it is registered (``egress.preflight``: parsed as the HTTP
client will, and its host held to the egress policy when it resolves), so a URL that can never be
delivered to is refused then with ``invalid_input`` or ``destination_blocked``.
"""

from __future__ import annotations

import builtins
import logging
from typing import Any

from sqlalchemy import Connection as DbConnection

from gatekey import egress, ids
from gatekey.domain import webhooks as hooks
from gatekey.domain.inputs import checked_arguments
from gatekey.errors import (
    InvalidFields,
    InvalidId,
    InvalidInput,
    NotFound,
)
from gatekey.models import CreatedWebhook, Webhook, WebhookDelivery
from gatekey.probe import Prober
from gatekey.service.actor import Actor, authorize
from gatekey.service.context import Context
from gatekey.store import audit as audit_rows
from gatekey.store import sealed
from gatekey.store import webhooks as rows
from gatekey.store.webhook_rows import DeliveryRow, EndpointRow

log = logging.getLogger(__name__)


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


def _delivery_of(row: DeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


@checked_arguments
class Webhooks:
    """Register, list and remove endpoints; read their deliveries; queue a ping."""

    def __init__(self, ctx: Context, prober: Prober) -> None:
        self.ctx = ctx
        self.prober = prober

    @staticmethod
    def _check_webhook_id(webhook_id: str) -> None:
        if not isinstance(webhook_id, str) or not ids.is_valid("whk", webhook_id):
            raise InvalidId("webhook ids look like whk_ followed by 26 characters")

    def _webhook_of(self, conn: DbConnection, row: EndpointRow) -> Webhook:
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

    def add(
        self, actor: Actor, *, url: Any, events: Any = None, description: Any = ""
    ) -> CreatedWebhook:
        """Register an endpoint; the returned ``secret`` signs every delivery (shown once)."""
        authorize(actor, "add_webhook")
        clean_url = self._check_webhook_url(url)
        wanted = _check_events(events)
        if not isinstance(description, str) or len(description) > 200:
            raise InvalidInput("description must be text of at most 200 characters")
        secret = hooks.new_secret()
        webhook_id = ids.new_id("whk")
        box = self.ctx.vault.seal(actor.project_id, webhook_id, {"secret": secret})
        now = self.ctx.now()
        with self.ctx.changing(actor, "webhook.create", "webhook", webhook_id) as conn:
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
                conn,
                [self.ctx.event(actor, "webhook.create", "webhook", webhook_id, events=wanted)],
            )
            stored = rows.endpoint(conn, actor.project_id, webhook_id)
            assert stored is not None  # inserted in this transaction
            created = self._webhook_of(conn, stored)
        return CreatedWebhook(**created.model_dump(), secret=secret)

    def list(self, actor: Actor) -> builtins.list[Webhook]:
        authorize(actor, "list_webhooks")
        with self.ctx.db.read() as conn:
            return [self._webhook_of(conn, r) for r in rows.endpoints_of(conn, actor.project_id)]

    def delete(self, actor: Actor, webhook_id: str) -> None:
        authorize(actor, "delete_webhook")
        self._check_webhook_id(webhook_id)
        with self.ctx.changing(actor, "webhook.delete", "webhook", webhook_id) as conn:
            if not rows.remove_endpoint(conn, actor.project_id, webhook_id):
                raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
            audit_rows.record_now(
                conn, [self.ctx.event(actor, "webhook.delete", "webhook", webhook_id)]
            )

    def deliveries(
        self, actor: Actor, webhook_id: str, limit: int = 50
    ) -> builtins.list[WebhookDelivery]:
        """The delivery log of an endpoint, newest first."""
        authorize(actor, "webhook_deliveries")
        self._check_webhook_id(webhook_id)
        with self.ctx.db.read() as conn:
            if rows.endpoint(conn, actor.project_id, webhook_id) is None:
                raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
            found = rows.deliveries_of(conn, webhook_id, max(1, min(limit, 500)))
        return [_delivery_of(r) for r in found]

    def ping(self, actor: Actor, webhook_id: str) -> None:
        """Queue a ``webhook.ping`` event to that endpoint only."""
        authorize(actor, "ping_webhook")
        self._check_webhook_id(webhook_id)
        with self.ctx.db.read() as conn:
            found = rows.endpoint(conn, actor.project_id, webhook_id)
        if found is None:
            raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
        self._check_webhook_url(found.url)  # registered before URLs were checked, or the DNS moved
        with self.ctx.db.write() as conn:
            if rows.endpoint(conn, actor.project_id, webhook_id) is None:
                raise NotFound(f"webhook {webhook_id} not found", id=webhook_id)
            self.ctx.outbox.add(
                conn, actor.project_id, hooks.PING, {}, self.ctx.now(), endpoints=[webhook_id]
            )
