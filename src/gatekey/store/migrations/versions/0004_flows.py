"""flows and the connections their steps use

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("webhook_hash", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_flows_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
        sa.UniqueConstraint("webhook_hash", name=op.f("uq_flows_webhook_hash")),
    )
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.create_index(
            "uq_flows_project_id_name_key", ["project_id", "name_key"], unique=True
        )

    op.create_table(
        "flow_refs",
        sa.Column("flow_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("step_id", sa.String(length=40), nullable=False),
        sa.Column("app_key", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_refs_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("flow_id", "step_id", name=op.f("pk_flow_refs")),
    )
    with op.batch_alter_table("flow_refs", schema=None) as batch_op:
        batch_op.create_index("ix_flow_refs_app", ["project_id", "app_key"], unique=False)
        batch_op.create_index("ix_flow_refs_connection", ["connection_id"], unique=False)
        batch_op.create_index("ix_flow_refs_flow", ["flow_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flow_refs", schema=None) as batch_op:
        batch_op.drop_index("ix_flow_refs_flow")
        batch_op.drop_index("ix_flow_refs_connection")
        batch_op.drop_index("ix_flow_refs_app")

    op.drop_table("flow_refs")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_index("uq_flows_project_id_name_key")

    op.drop_table("flows")
