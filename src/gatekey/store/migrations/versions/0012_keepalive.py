"""connections: the keep-alive of credentials a provider deactivates when idle

Revision ID: 0012
Revises: 0011

``keepalive_until``: a keep-alive sweep claimed the connection until then (no other process
tests it before); ``keepalive_failed_at``: when a keep-alive last could not reach the
provider (the connection's view warns until it is used again).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("keepalive_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("keepalive_failed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("keepalive_failed_at")
        batch.drop_column("keepalive_until")
