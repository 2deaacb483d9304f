"""The audit hash chain: each entry's hash covers its content and the hash before it.

Pure. Entries form one chain per project (``""`` for entries outside any project), numbered
from 1; the first entry links to ``GENESIS``. Editing an entry changes its hash; deleting or
inserting one breaks the numbering or the link; deleting the newest ones no longer matches
the chain's head, which is kept in its own row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_time(at: datetime) -> str:
    """UTC, microseconds, no offset: what both databases give back for a stored time."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(sep=" ", timespec="microseconds")


def link(
    previous: str,
    *,
    chain: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    outcome: str,
    detail: Mapping[str, Any],
) -> str:
    """Return the SHA-256 (hex) of the previous hash and the entry's canonical JSON."""
    body = json.dumps(
        [
            chain,
            seq,
            canonical_time(at),
            actor,
            action,
            object_type,
            object_id,
            outcome,
            detail,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(f"{previous}:{body}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain does not hold: the chain, the entry (seq and row id) and what is wrong."""

    chain: str
    seq: int
    entry_id: int | None
    problem: str
