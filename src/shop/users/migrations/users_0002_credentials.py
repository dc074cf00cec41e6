"""users: a password hash and a role per user, so customers and staff can log in.

Revision ID: users_0002
Revises: users_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "users_0002"
down_revision = "users_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Users registered before this revision have no password (they cannot log in until
    # one is set) and are customers: the server default fills the existing rows.
    op.add_column("users", sa.Column("password_hash", sa.String(255), nullable=True))
    op.add_column(
        "users",
        sa.Column("role", sa.String(20), nullable=False, server_default="customer"),
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("role")
        batch.drop_column("password_hash")
