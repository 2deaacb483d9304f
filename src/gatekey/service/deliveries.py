"""Sending status webhooks: claim a fair batch of due deliveries, sign and send each, settle it.

Delivery is at least once: a batch of deliveries is claimed (compare-and-swap, so one sender
across processes and replicas has each), sent, and each settled on its own. A sender that dies
mid-batch leaves the claims to lapse and those deliveries are sent again; receivers dedupe by the
event ``id``. Batches are fair across projects (``store.webhooks.claim_due``), and nothing one
delivery does (a URL the client cannot use, a refused destination, an unreachable endpoint, an
error of Gatekey's own) stops the batch: it is recorded on that delivery, retried or failed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx2

from gatekey import egress
from gatekey.domain import webhooks as hooks
from gatekey.errors import DestinationBlocked, GatekeyError, InvalidInput
from gatekey.probe import Prober
from gatekey.service.context import Context
from gatekey.store import sealed
from gatekey.store import webhooks as rows
from gatekey.store.webhook_rows import DeliveryToSend

log = logging.getLogger(__name__)

CLAIM = timedelta(seconds=60)
SEND_TIMEOUT = 10.0
PER_PROJECT = 5
"""At most this many deliveries of one project in a batch."""


class Deliveries:
    """The sender the webhook dispatcher runs (``workers.dispatcher``)."""

    def __init__(self, ctx: Context, prober: Prober) -> None:
        self.ctx = ctx
        self.prober = prober

    def deliver_due(self, limit: int = 20) -> int:
        """Send one fair batch of due deliveries (for the background dispatcher); return how
        many were attempted. One delivery's failure, whatever it is, never stops the others."""
        now = self.ctx.now()
        until = now + CLAIM + timedelta(seconds=SEND_TIMEOUT * limit)
        with self.ctx.db.write() as conn:
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
        with self.ctx.db.read() as conn:
            row = rows.delivery_with_endpoint(conn, delivery_id)
        if row is None:  # its endpoint was removed meanwhile
            return 0
        now = self.ctx.now()
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
        with self.ctx.db.write() as conn:
            rows.finish(conn, row.id, values)
        return 1

    def _attempt(self, row: DeliveryToSend) -> tuple[int | None, str | None, bool]:
        """Send once: (HTTP status, error or None, whether the error is final). Never raises."""
        try:
            url = egress.destination(row.url)
            secret = str(
                self.ctx.vault.open(row.project_id, row.endpoint_id, sealed.sealed_of(row))[
                    "secret"
                ]
            )
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "gatekey-webhooks/1",
                "Gatekey-Event": row.event_type,
                "Gatekey-Delivery": row.id,
                "Gatekey-Signature": hooks.signature(
                    secret, int(self.ctx.now().timestamp()), row.body
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
