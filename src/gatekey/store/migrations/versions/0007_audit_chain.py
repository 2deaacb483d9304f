"""hash-chain the audit trail, per project, with a head row per chain

Revision ID: 0007
Revises: 0006

Self-contained, like every migration: the chain's hash as it was defined when this revision
was written is frozen below (a copy of ``gatekey.domain.audit_chain.link``), and the time
column is read as the plain ``DateTime`` it is stored as. So a later change to the live code
never changes what this revision does to an old database; should the hash ever change, a new
revision re-chains the trail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GENESIS = "0" * 64

_events = sa.table(
    "audit_events",
    sa.column("id", sa.BigInteger()),
    sa.column("at", sa.DateTime()),
    sa.column("project_id", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("object_type", sa.String()),
    sa.column("object_id", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("detail", sa.JSON()),
    sa.column("chain", sa.String()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def _canonical_time(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(sep=" ", timespec="microseconds")


def _link(
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
    detail: Any,
) -> str:
    """The SHA-256 (hex) of the previous hash and the entry's canonical JSON, as of 0007."""
    body = json.dumps(
        [chain, seq, _canonical_time(at), actor, action, object_type, object_id, outcome, detail],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(f"{previous}:{body}".encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("chain", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    heads = op.create_table(
        "audit_heads",
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_heads")),
    )
    bind = op.get_bind()
    tips: dict[str, tuple[int, str]] = {}
    for row in bind.execute(sa.select(_events).order_by(_events.c.id)).all():
        chain = row.project_id or ""
        seq, previous = tips.get(chain, (0, _GENESIS))
        seq += 1
        digest = _link(
            previous,
            chain=chain,
            seq=seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            outcome=row.outcome,
            detail=row.detail,
        )
        bind.execute(
            sa.update(_events)
            .where(_events.c.id == row.id)
            .values(chain=chain, seq=seq, prev_hash=previous, hash=digest)
        )
        tips[chain] = (seq, digest)
    if tips:
        op.bulk_insert(heads, [{"chain": c, "seq": s, "hash": h} for c, (s, h) in tips.items()])
    with op.batch_alter_table("audit_events") as batch:
        for name, kind in (
            ("chain", sa.String(length=40)),
            ("seq", sa.BigInteger()),
            ("prev_hash", sa.String(length=64)),
            ("hash", sa.String(length=64)),
        ):
            batch.alter_column(name, existing_type=kind, nullable=False)
        batch.create_index("uq_audit_events_chain_seq", ["chain", "seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("uq_audit_events_chain_seq")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
        batch.drop_column("chain")
    op.drop_table("audit_heads")
