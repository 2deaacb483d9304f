"""Logging hygiene: outbound request lines are logged without their query strings.

``httpx2`` logs each request URL at INFO; an app that takes its key as a query parameter would
otherwise put the key in that line. The filter rewrites the URL argument, whatever the level.
"""

from __future__ import annotations

import logging

import httpx2


class StripQueryFilter(logging.Filter):
    """Replace any ``httpx2.URL`` argument of a record by the same URL without its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx2.URL) for a in record.args):
            record.args = tuple(
                a.copy_with(query=None) if isinstance(a, httpx2.URL) and a.query else a
                for a in record.args
            )
        return True


def install() -> None:
    """Attach the filter to the ``httpx2`` logger once."""
    logger = logging.getLogger("httpx2")
    if not any(isinstance(f, StripQueryFilter) for f in logger.filters):
        logger.addFilter(StripQueryFilter())
