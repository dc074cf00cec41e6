"""The public surface and the checkpoint table's migration operations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

import tidings.projections as projections
from examples.blog.system import system as blog_system
from tidings.migrations import runner as migrations
from tidings.projections import find_projection, projections_of
from tidings.storage.database import Database


def test_every_public_name_exists_and_nothing_public_is_unlisted() -> None:
    for name in projections.__all__:
        assert hasattr(projections, name), name
    exported = {n for n in vars(projections) if not n.startswith("_")}
    modules = {n for n, v in vars(projections).items() if type(v).__name__ == "module"}
    assert exported - modules == set(projections.__all__)


def test_a_system_lists_its_projections_in_extras() -> None:
    names = [p.name for p in projections_of(blog_system)]
    assert names == ["post_list", "post_detail", "comments_by_post", "popular_posts"]
    assert find_projection(blog_system, "popular_posts").table_names == ("popular_posts",)


async def test_the_blog_migration_creates_and_drops_the_checkpoint_table(
    make_database: Any,
) -> None:
    database: Database = await make_database("sqlite", service="blog")
    service = blog_system.service("blog")

    async def tables() -> set[str]:
        async with database.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))

    await migrations.upgrade(database, service)
    assert {"projection_checkpoints", "events", "post_list", "popular_posts"} <= await tables()
    await migrations.downgrade(database, service, "base")
    assert "projection_checkpoints" not in await tables()
