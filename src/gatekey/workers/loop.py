"""The one thread machinery every background loop of Gatekey runs on.

A loop calls its step, waits out what is left of its interval, and calls it again until
``stop()``. Each call is isolated: whatever it raises (``BaseException`` included, since
``SystemExit`` would otherwise end a thread silently) is logged and the loop carries on, so a
bug or an outage costs one iteration, never the loop. A step that found work returns ``True``
and is called again at once; an idle one waits.

The workers hold a ``Loop`` (composition, not a base class to override): the step is a plain
callable, and the loop's ``wait`` lets a long step (a refresh sweep, a webhook drain) pause
and notice ``stop()`` between pieces of work.

Failures are logged without their message: an exception's text may carry a provider's
answer, a URL with a key in its path, or a tenant's value, and no redaction pattern catches
them all. The type and the frames (file, line, function) say where it broke; the message is
what the run, the delivery or the connection records, where the API shows it to its owner.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable

from gatekey.errors import DatabaseUnavailable, GatekeyError

Step = Callable[[int], bool]
"""One iteration on thread ``index``; ``True`` when it found work and should go again at once."""


def described(exc: BaseException) -> str:
    """Name a failure for a log line: its type (or code) and its frames, never its message."""
    if isinstance(exc, GatekeyError):
        return exc.code
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    return f"{type(exc).__name__} (message withheld)\n{frames}".rstrip()


def log_failure(log: logging.Logger, what: str, exc: BaseException) -> None:
    """Log that ``what`` failed: a warning for an outage or a known error, else an error."""
    if isinstance(exc, DatabaseUnavailable):
        log.warning("%s skipped: the database is unavailable", what)
    elif isinstance(exc, GatekeyError):
        log.warning("%s failed: %s", what, exc.code)
    else:
        log.error("%s failed: %s", what, described(exc))


class Loop:
    """``threads`` threads calling ``step`` every ``interval`` seconds until ``stop()``.

    ``name`` names the threads (``gatekey-runs-0``) and the loop in its log lines.
    """

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        interval: float,
        threads: int = 1,
        log: logging.Logger | None = None,
        join_timeout: float = 30,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._count = max(threads, 1)
        self._log = log or logging.getLogger(__name__)
        self._join_timeout = join_timeout
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called: a long step checks it between pieces of work."""
        return self._stop.is_set()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The threads ``start()`` started."""
        return tuple(self._threads)

    @property
    def alive(self) -> bool:
        """Whether every thread is running and none was told to stop."""
        return (
            bool(self._threads)
            and not self._stop.is_set()
            and all(t.is_alive() for t in self._threads)
        )

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, less if ``stop()`` comes first; return whether it came."""
        return self._stop.wait(max(seconds, 0))

    def iterate(self, index: int = 0) -> bool:
        """Call the step once, isolated: a failure is logged and counts as idle."""
        try:
            return self._step(index)
        except BaseException as exc:
            log_failure(self._log, f"{self.name}: an iteration", exc)
            return False

    def _run(self, index: int) -> None:
        while not self._stop.is_set():
            began = self._monotonic()
            if not self.iterate(index):
                self.wait(self._interval - (self._monotonic() - began))

    def start(self) -> None:
        """Start the threads (daemons: they never keep a process alive on their own)."""
        if self._threads:
            return
        for index in range(self._count):
            suffix = f"-{index}" if self._count > 1 else ""
            thread = threading.Thread(
                target=self._run, args=(index,), name=f"{self.name}{suffix}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Tell every thread to stop and wait (up to ``join_timeout``) for each to finish."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._join_timeout)
