"""The read side: four denormalised tables, each kept current by its own projection.

* ``post_list``: live posts for the front page (title, author, comment count).
* ``post_detail``: one post with its body, revision count and deletion mark.
* ``comments_by_post``: the comments of each post, in order.
* ``popular_posts``: live posts ranked by comment count.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    update,
)

from tidings.eventstore.base import RecordedEvent
from tidings.projections import ProjectionContext, projection

metadata = MetaData()

post_list_table = Table(
    "post_list",
    metadata,
    Column("post_id", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("author", String(100), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("comments", Integer, nullable=False),
)

post_detail_table = Table(
    "post_detail",
    metadata,
    Column("post_id", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("author", String(100), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("revisions", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False),
)

comments_table = Table(
    "comments_by_post",
    metadata,
    Column("comment_id", String(64), primary_key=True),
    Column("post_id", String(64), nullable=False),
    Column("author", String(100), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_comments_by_post_post", "post_id", "position"),
)

popular_table = Table(
    "popular_posts",
    metadata,
    Column("post_id", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("comments", Integer, nullable=False),
    Index("ix_popular_posts_comments", "comments"),
)

CREATED, UPDATED, DELETED, COMMENTED = (
    "blog.PostCreated",
    "blog.PostUpdated",
    "blog.PostDeleted",
    "blog.CommentAdded",
)

# -- PostList -------------------------------------------------------------------

_post_list = projection("post_list", [post_list_table], description="the front page")


@_post_list.on(CREATED)
async def _list_created(ctx: ProjectionContext, event: RecordedEvent) -> None:
    data = event.data
    ctx.insert(
        post_list_table,
        {
            "post_id": data["post_id"],
            "title": data["title"],
            "author": data["author"],
            "created_at": data["at"],
            "comments": 0,
        },
    )


@_post_list.on(UPDATED)
async def _list_updated(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(post_list_table)
    await ctx.execute(
        update(table)
        .where(table.c.post_id == event.data["post_id"])
        .values(title=event.data["title"])
    )


@_post_list.on(DELETED)
async def _list_deleted(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(post_list_table)
    await ctx.execute(delete(table).where(table.c.post_id == event.data["post_id"]))


@_post_list.on(COMMENTED)
async def _list_commented(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(post_list_table)
    await ctx.execute(
        update(table)
        .where(table.c.post_id == event.data["post_id"])
        .values(comments=table.c.comments + 1)
    )


post_list = _post_list.build()

# -- PostDetail -----------------------------------------------------------------

_post_detail = projection("post_detail", [post_detail_table], description="one post, in full")


@_post_detail.on(CREATED)
async def _detail_created(ctx: ProjectionContext, event: RecordedEvent) -> None:
    data = event.data
    ctx.insert(
        post_detail_table,
        {
            "post_id": data["post_id"],
            "title": data["title"],
            "body": data["body"],
            "author": data["author"],
            "created_at": data["at"],
            "updated_at": data["at"],
            "revisions": 1,
            "deleted": False,
        },
    )


@_post_detail.on(UPDATED)
async def _detail_updated(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(post_detail_table)
    data = event.data
    await ctx.execute(
        update(table)
        .where(table.c.post_id == data["post_id"])
        .values(
            title=data["title"],
            body=data["body"],
            updated_at=data["at"],
            revisions=table.c.revisions + 1,
        )
    )


@_post_detail.on(DELETED)
async def _detail_deleted(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(post_detail_table)
    data = event.data
    await ctx.execute(
        update(table)
        .where(table.c.post_id == data["post_id"])
        .values(deleted=True, updated_at=data["at"])
    )


post_detail = _post_detail.build()

# -- CommentsByPost -------------------------------------------------------------

_comments = projection("comments_by_post", [comments_table], description="comments per post")


@_comments.on(COMMENTED)
async def _comment_added(ctx: ProjectionContext, event: RecordedEvent) -> None:
    data = event.data
    ctx.insert(
        comments_table,
        {
            "comment_id": data["comment_id"],
            "post_id": data["post_id"],
            "author": data["author"],
            "text": data["text"],
            "created_at": data["at"],
            "position": event.position,
        },
    )


@_comments.on(DELETED)
async def _comments_deleted(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(comments_table)
    await ctx.execute(delete(table).where(table.c.post_id == event.data["post_id"]))


comments_by_post = _comments.build()

# -- PopularPosts ---------------------------------------------------------------

_popular = projection("popular_posts", [popular_table], description="posts by comment count")


@_popular.on(CREATED)
async def _popular_created(ctx: ProjectionContext, event: RecordedEvent) -> None:
    data = event.data
    ctx.insert(popular_table, {"post_id": data["post_id"], "title": data["title"], "comments": 0})


@_popular.on(UPDATED)
async def _popular_updated(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(popular_table)
    await ctx.execute(
        update(table)
        .where(table.c.post_id == event.data["post_id"])
        .values(title=event.data["title"])
    )


@_popular.on(DELETED)
async def _popular_deleted(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(popular_table)
    await ctx.execute(delete(table).where(table.c.post_id == event.data["post_id"]))


@_popular.on(COMMENTED)
async def _popular_commented(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(popular_table)
    await ctx.execute(
        update(table)
        .where(table.c.post_id == event.data["post_id"])
        .values(comments=table.c.comments + 1)
    )


popular_posts = _popular.build()

PROJECTIONS = (post_list, post_detail, comments_by_post, popular_posts)

__all__ = [
    "PROJECTIONS",
    "comments_by_post",
    "comments_table",
    "metadata",
    "popular_posts",
    "popular_table",
    "post_detail",
    "post_detail_table",
    "post_list",
    "post_list_table",
]
