"""blog: the event store, the projection checkpoints and the four read models.

Revision ID: blog_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tidings.eventstore.schema import create_event_store, drop_event_store
from tidings.projections.ops import create_projection_checkpoints, drop_projection_checkpoints

revision = "blog_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_store()
    create_projection_checkpoints()
    op.create_table(
        "post_list",
        sa.Column("post_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("comments", sa.Integer, nullable=False),
    )
    op.create_table(
        "post_detail",
        sa.Column("post_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("revisions", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_table(
        "comments_by_post",
        sa.Column("comment_id", sa.String(64), primary_key=True),
        sa.Column("post_id", sa.String(64), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_comments_by_post_post", "comments_by_post", ["post_id", "position"])
    op.create_table(
        "popular_posts",
        sa.Column("post_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("comments", sa.Integer, nullable=False),
    )
    op.create_index("ix_popular_posts_comments", "popular_posts", ["comments"])


def downgrade() -> None:
    op.drop_index("ix_popular_posts_comments", table_name="popular_posts")
    op.drop_table("popular_posts")
    op.drop_index("ix_comments_by_post_post", table_name="comments_by_post")
    op.drop_table("comments_by_post")
    op.drop_table("post_detail")
    op.drop_table("post_list")
    drop_projection_checkpoints()
    drop_event_store()
