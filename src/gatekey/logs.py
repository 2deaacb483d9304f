"""Logging hygiene: outbound request lines never reach the logs with a secret in them.

``httpx2`` logs each request URL at INFO and ``httpcore2`` logs wire events at DEBUG. An app
may carry its key in a query parameter, and some carry it in the path (Telegram's
``/bot<token>/``), so those records are dropped entirely, whatever the level the operator sets;
Gatekey logs its own provider calls by app key instead. As a second line of defence, any URL
argument that still reaches a handler loses its query string.
"""

from __future__ import annotations

import logging

import httpx2

_WIRE_LOGGERS = ("httpx2", "httpcore2", "httpx", "httpcore")


class StripQueryFilter(logging.Filter):
    """Replace any ``httpx2.URL`` argument of a record by the same URL without its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx2.URL) for a in record.args):
            record.args = tuple(
                a.copy_with(query=None) if isinstance(a, httpx2.URL) and a.query else a
                for a in record.args
            )
        return True


class DropRequestLines(logging.Filter):
    """Drop the HTTP clients' own request and wire records (below WARNING)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def install() -> None:
    """Quiet the HTTP clients' loggers (their children inherit the level) and filter them."""
    for name in _WIRE_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        if not any(isinstance(f, DropRequestLines) for f in logger.filters):
            logger.addFilter(DropRequestLines())
            logger.addFilter(StripQueryFilter())
