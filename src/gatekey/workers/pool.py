"""``Workers``: the background loops of ``gatekey serve`` and ``gatekey worker``, started and
stopped as one.

Both processes run the same loops (run workers, the webhook dispatcher, the token refresher
and, unless ``GATEKEY_KEEPALIVE_INTERVAL`` is 0, the keep-alive) built by the runtime from the
same settings, so a deployment may run them inside
the server, beside it in worker processes, or both. The usage writer is not one of them: every
process that opens Gatekey writes its own reads, so the runtime owns that loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatekey.workers.dispatcher import WebhookDispatcher
from gatekey.workers.keepalive import BackgroundKeepAlive, KeepAliveResult
from gatekey.workers.refresher import BackgroundRefresher, SweepResult
from gatekey.workers.runner import RunWorker


@dataclass(frozen=True)
class Pass:
    """What one pass of every loop did (``gatekey worker --once``)."""

    sweep: SweepResult
    runs: int
    webhooks: int
    keepalive: KeepAliveResult | None = None
    """None: the keep-alive is off."""


@dataclass(frozen=True)
class Workers:
    runs: RunWorker
    webhooks: WebhookDispatcher
    refresher: BackgroundRefresher
    keepalive: BackgroundKeepAlive | None = None

    def start(self) -> None:
        """Start every loop on its own threads."""
        self.runs.start()
        self.webhooks.start()
        self.refresher.start()
        if self.keepalive is not None:
            self.keepalive.start()

    def stop(self) -> None:
        """Stop every loop, in the reverse order, each finishing the piece of work it is on."""
        if self.keepalive is not None:
            self.keepalive.stop()
        self.refresher.stop()
        self.webhooks.stop()
        self.runs.stop()

    def once(self) -> Pass:
        """One pass in the caller's thread: sweep, execute what is queued, send what is due,
        keep idle credentials alive."""
        sweep = self.refresher.sweep()
        runs = self.runs.drain()
        webhooks = self.webhooks.drain()
        kept = self.keepalive.sweep() if self.keepalive is not None else None
        return Pass(sweep, runs, webhooks, kept)
