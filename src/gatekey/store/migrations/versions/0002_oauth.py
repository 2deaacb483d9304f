"""oauth clients, authorization sessions, refresh lease columns

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("app_key", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=True),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("dek_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_oauth_clients_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
    )
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_clients_kek_id"), ["kek_id"], unique=False)
        batch_op.create_index(
            "uq_oauth_clients_project_id_app_key", ["project_id", "app_key"], unique=True
        )

    op.create_table(
        "oauth_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("app_key", sa.String(length=64), nullable=False),
        sa.Column("oauth_client_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=True),
        sa.Column("connection_name", sa.String(length=200), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("result_connection_id", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("dek_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_oauth_sessions_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_sessions")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_sessions_state_hash")),
    )
    with op.batch_alter_table("oauth_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_sessions_kek_id"), ["kek_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_oauth_sessions_project_id"), ["project_id"], unique=False
        )

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oauth_client_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("refresh_lease_owner", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("refresh_lease_until", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("refresh_failures", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("refresh_retry_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_connections_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index("ix_connections_expires_at")
        batch_op.drop_column("last_error_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("refresh_retry_at")
        batch_op.drop_column("refresh_failures")
        batch_op.drop_column("refresh_lease_until")
        batch_op.drop_column("refresh_lease_owner")
        batch_op.drop_column("oauth_client_id")

    with op.batch_alter_table("oauth_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_sessions_project_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_sessions_kek_id"))

    op.drop_table("oauth_sessions")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_index("uq_oauth_clients_project_id_app_key")
        batch_op.drop_index(batch_op.f("ix_oauth_clients_kek_id"))

    op.drop_table("oauth_clients")
