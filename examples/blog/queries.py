"""The read side's queries: plain SELECTs over the read models.

Each takes ``at_least``: the position a command returned. When given, the query
first waits (up to ``timeout``) until its projection has reached it, so a user
sees their own change; ``fresh`` in the result says whether it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import select

from examples.blog.read_models import (
    comments_by_post,
    comments_table,
    popular_posts,
    popular_table,
    post_detail,
    post_detail_table,
    post_list,
    post_list_table,
)
from tidings.projections import query_at
from tidings.storage.database import Database

T = TypeVar("T")


@dataclass(frozen=True)
class View(Generic[T]):
    value: T
    fresh: bool
    """False if the read model had not reached the asked position within the timeout."""


async def _rows(database: Database, statement: Any) -> list[dict[str, Any]]:
    async with database.connect() as connection:
        return [dict(row._mapping) for row in await connection.execute(statement)]


async def list_posts(
    database: Database, *, at_least: int | None = None, timeout: float = 2.0
) -> View[list[dict[str, Any]]]:
    statement = select(post_list_table).order_by(post_list_table.c.created_at)
    rows, fresh = await query_at(
        database,
        post_list.name,
        lambda: _rows(database, statement),
        at_least=at_least,
        timeout=timeout,
    )
    return View(rows, fresh)


async def get_post(
    database: Database, post_id: str, *, at_least: int | None = None, timeout: float = 2.0
) -> View[dict[str, Any] | None]:
    statement = select(post_detail_table).where(post_detail_table.c.post_id == post_id)
    rows, fresh = await query_at(
        database,
        post_detail.name,
        lambda: _rows(database, statement),
        at_least=at_least,
        timeout=timeout,
    )
    return View(rows[0] if rows else None, fresh)


async def comments_for(
    database: Database, post_id: str, *, at_least: int | None = None, timeout: float = 2.0
) -> View[list[dict[str, Any]]]:
    statement = (
        select(comments_table)
        .where(comments_table.c.post_id == post_id)
        .order_by(comments_table.c.position)
    )
    rows, fresh = await query_at(
        database,
        comments_by_post.name,
        lambda: _rows(database, statement),
        at_least=at_least,
        timeout=timeout,
    )
    return View(rows, fresh)


async def most_popular(
    database: Database, *, limit: int = 10, at_least: int | None = None, timeout: float = 2.0
) -> View[list[dict[str, Any]]]:
    statement = (
        select(popular_table)
        .order_by(popular_table.c.comments.desc(), popular_table.c.title)
        .limit(limit)
    )
    rows, fresh = await query_at(
        database,
        popular_posts.name,
        lambda: _rows(database, statement),
        at_least=at_least,
        timeout=timeout,
    )
    return View(rows, fresh)
