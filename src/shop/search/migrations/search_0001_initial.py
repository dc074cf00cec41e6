"""search: the audit log, inbox, dead letters and the product index (full-text where supported).

Revision ID: search_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shop.search.fulltext import full_text_for
from tidings.inbox import ops as inbox_ops
from tidings.migrations import ops
from tidings.storage.types import UTCDateTime

revision = "search_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_audit_log()
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()
    op.create_table(
        "search_documents",
        sa.Column("product_id", sa.String(36), primary_key=True),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
        sa.Column("indexed_at", UTCDateTime, nullable=False),
    )
    for statement in full_text_for(ops.current_backend()).index_statements:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("search_documents")
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    ops.drop_audit_log()
