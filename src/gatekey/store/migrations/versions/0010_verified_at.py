"""connections: when a provider last accepted the credentials

Revision ID: 0010
Revises: 0009

A connection stored before this revision that holds an OAuth2 token set got it from the
provider's token endpoint, which proves the grant: it counts as verified when that token was
issued (``last_refreshed_at``). Any other connection may have been saved without a check and
reads as not verified until a test passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("verified_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE connections SET verified_at = last_refreshed_at "
        "WHERE auth_kind IN ('oauth2', 'oauth2_client_credentials')"
    )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("verified_at")
