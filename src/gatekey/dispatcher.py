"""The thread that sends due webhook deliveries (in ``serve`` and ``gatekey worker``)."""

from __future__ import annotations

import logging
import threading

from gatekey.service import ConnectionService

log = logging.getLogger(__name__)


class WebhookDispatcher:
    """Polls the outbox every ``interval`` seconds and sends what is due, in fair batches.

    Each delivery is settled on its own (``deliver_webhooks``), and the loop outlives any error
    a batch raises (the database away, say): it logs the type and polls again.
    """

    def __init__(self, service: ConnectionService, *, interval: float = 2.0, batch: int = 20):
        self.service = service
        self.interval = interval
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def drain(self, rounds: int = 50) -> int:
        """Send until nothing is due (or ``rounds`` batches); return how many were attempted."""
        sent = 0
        for _ in range(rounds):
            count = self.service.deliver_webhooks(self.batch)
            sent += count
            if count == 0 or self._stop.is_set():
                break
        return sent

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain()
            except Exception as exc:  # keep dispatching; the type only (messages may hold URLs)
                log.error("webhook dispatch failed: %s", type(exc).__name__)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gatekey-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
