"""Logging hygiene: outbound request lines never reach the logs with a secret in them.

``httpx2`` logs each request URL at INFO and ``httpcore2`` logs wire events at DEBUG. An app
may carry its key in a query parameter, and some carry it in the path (Telegram's
``/bot<token>/``), so those records are dropped entirely, whatever the level the operator sets;
Gatekey logs its own provider calls by app key instead. As a second line of defence, any URL
argument that still reaches a handler loses its query string.

``configure`` installs Gatekey's handler (text, or one JSON object per line) whose formatter
redacts, as a last line of defence, whatever looks like a credential in the finished line,
tracebacks included: bearer and basic credentials, Gatekey API keys, URL passwords, and the
values of fields named like tokens, secrets, passwords, keys or codes.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

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


REDACTED = "[redacted]"
_PATTERNS = [
    # Authorization: Bearer/Basic/Token <credential>
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2" + REDACTED),
    # Gatekey API keys, session and sign-in tokens
    (re.compile(r"\bgk_[A-Za-z0-9_-]{16,}"), "gk_" + REDACTED),
    # https://user:password@host
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
    # name=value, name: value, "name": "value" for names that hold secrets
    (
        re.compile(
            r"(?i)(\b[\w-]*(?:token|secret|password|passwd|api[_-]?key|apikey|"
            r"authorization|cookie|code_verifier|client_assertion|\bcode)[\w-]*"
            r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}]{3,})"
        ),
        r"\1" + REDACTED,
    ),
]


def redact(text: str) -> str:
    """Mask whatever in ``text`` looks like a credential."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A text formatter passing each finished line (message, traceback, stack) through redact."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, exception; redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


class _GatekeyHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler ``configure`` installed, so a second call replaces it."""


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Send every logger's records to stderr through a redacting formatter."""
    install()
    handler = _GatekeyHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _GatekeyHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
