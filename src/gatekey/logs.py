"""Logging hygiene: outbound request lines never reach the logs with a secret in them.

``httpx2`` logs each request URL at INFO and ``httpcore2`` logs wire events at DEBUG. An app
may carry its key in a query parameter, and some carry it in the path (Telegram's
``/bot<token>/``), so those records are dropped entirely, whatever the level the operator sets;
Gatekey logs its own provider calls by app key instead. As a second line of defence, any URL
argument that still reaches a handler loses its query string.

``configure`` installs Gatekey's handler (text, or one JSON object per line) whose formatter
redacts, as a last line of defence, whatever looks like a credential in the finished line,
tracebacks included: bearer and basic credentials, Gatekey API keys, URL passwords, and the
values of fields named like tokens, secrets, passwords, keys or codes. A dotted module path
followed by ``": "`` is how a text line names its logger (``gatekey.oauth.refresh: ...``), not
a field, so the word after it is kept (``db.password: x`` is kept too; ``db.password=x`` and
``"db.password": "x"`` are not).

Log lines carry tenant text (names, messages, URLs), so the patterns run on RE2, in time linear
in the line: on ``re``, ``"token-" * 667`` (4,000 characters) took 53 s holding the GIL.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import re2

# botocore logs whole STS answers at DEBUG (temporary keys and session tokens), oauthlib its
# signature base strings, urllib3 request lines with their query: kept at WARNING as well.
_WIRE_LOGGERS = (
    "httpx2",
    "httpcore2",
    "httpx",
    "httpcore",
    "botocore",
    "boto3",
    "oauthlib",
    "urllib3",
)


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
_REDACTED = REDACTED.encode()
# Python's ``\w`` and ``\s``, which these patterns were written for; RE2's are ASCII-only.
_WORD = r"\p{L}\p{N}_"
_SPACE = r"\t-\r\x1c-\x1f\x85\p{Z}"
_SECRET_NAME = (
    rf"[{_WORD}-]*(?:token|secret|password|passwd|api[_-]?key|apikey|"
    rf"authorization|cookie|code_verifier|client_assertion|\bcode)[{_WORD}-]*"
)


@dataclass(frozen=True)
class _Rule:
    """A pattern whose ``secret`` group is masked.

    RE2's ``\b`` is ASCII-only, so it also sees a boundary right after a non-ASCII letter
    (``éBearer``); ``word_start`` refuses a match starting there, as ``re`` did, so that it
    does not take text a later rule needs. The last rule may over-match there: it only masks more.
    """

    regexp: Any
    word_start: bool = True


_RULES = [
    # Authorization: Bearer/Basic/Token <credential>
    _Rule(
        re2.compile(rf"(?i)\b(?:bearer|basic|token)[{_SPACE}]+(?P<secret>[A-Za-z0-9._~+/=-]{{8,}})")
    ),
    # Gatekey API keys, session and sign-in tokens
    _Rule(re2.compile(r"\bgk_(?P<secret>[A-Za-z0-9_-]{16,})")),
    # https://user:password@host
    _Rule(re2.compile(rf"(?i)\b[a-z][a-z0-9+.-]*://[^/{_SPACE}:@]+:(?P<secret>[^@{_SPACE}/]+)@")),
    # name=value, name: value, "name": "value" for names that hold secrets; ``path`` catches
    # the dotted module path of a logger name ("gatekey.oauth.refresh: ...")
    _Rule(
        re2.compile(
            rf"\b(?P<path>(?:[a-z_][a-z0-9_]*\.)+)?(?i:{_SECRET_NAME})"
            rf"(?P<sep>[\"']?[{_SPACE}]*[:=][{_SPACE}]*[\"']?)(?P<secret>[^{_SPACE}\"'&,;}}]{{3,}})"
        ),
        word_start=False,
    ),
]


def _after_letter(data: bytes, at: int) -> bool:
    """Tell whether the character before byte ``at`` is a non-ASCII letter or digit."""
    start = at - 1
    while start > 0 and 0x80 <= data[start] < 0xC0:
        start -= 1
    before = data[max(start, 0) : at].decode("utf-8", "replace")
    return not before.isascii() and before.isalnum()


def _mask(rule: _Rule, data: bytes) -> bytes:
    """Mask each match's ``secret``; skip a logger's name (a dotted ``path`` then ``": "``)."""
    regexp = rule.regexp
    secret = regexp.groupindex["secret"]
    path, sep = regexp.groupindex.get("path"), regexp.groupindex.get("sep")
    pieces: list[bytes] = []
    done = pos = 0
    while (match := regexp.search(data, pos)) is not None:
        if rule.word_start and _after_letter(data, match.start()):
            pos = match.start() + 1
            while pos < len(data) and 0x80 <= data[pos] < 0xC0:
                pos += 1
            continue
        if path is not None and match.group(path) is not None and match.group(sep) == b": ":
            pos = match.end(sep)  # the message after a logger's name is still read
            continue
        pieces += [data[done : match.start(secret)], _REDACTED]
        done = pos = match.end(secret)
    if not pieces:
        return data
    return b"".join([*pieces, data[done:]])


def redact(text: str) -> str:
    """Mask whatever in ``text`` looks like a credential, in time linear in its length.

    A lone surrogate comes back escaped (``\\ud800``), as a log stream would write it.
    """
    data = text.encode("utf-8", "backslashreplace")
    for rule in _RULES:
        data = _mask(rule, data)
    return data.decode("utf-8")


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
