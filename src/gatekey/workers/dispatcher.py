"""The loop that sends due webhook deliveries (in ``serve`` and ``gatekey worker``)."""

from __future__ import annotations

import logging
from typing import Protocol

from gatekey.workers.loop import Loop

log = logging.getLogger(__name__)


class Delivers(Protocol):
    """The system operation the dispatcher calls: the service implements it."""

    def deliver_webhooks(self, limit: int = ...) -> int: ...


class WebhookDispatcher:
    """Polls the outbox every ``interval`` seconds and sends what is due, in fair batches.

    Each delivery is settled on its own (``deliver_webhooks``), and the loop outlives any error
    a batch raises (the database away, say): it logs the type and polls again.
    """

    def __init__(self, service: Delivers, *, interval: float = 2.0, batch: int = 20) -> None:
        self.service = service
        self.interval = interval
        self.batch = batch
        self.loop = Loop(
            "gatekey-webhooks", self._step, interval=interval, log=log, join_timeout=15
        )

    def drain(self, rounds: int = 50) -> int:
        """Send until nothing is due (or ``rounds`` batches); return how many were attempted."""
        sent = 0
        for _ in range(rounds):
            count = self.service.deliver_webhooks(self.batch)
            sent += count
            if count == 0 or self.loop.stopping:
                break
        return sent

    def _step(self, _: int) -> bool:
        self.drain()
        return False

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()
