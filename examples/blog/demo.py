"""The blog demo: commands on the write side, four read models following, read-your-writes,
and a rebuild swapped in while readers keep reading.

Runs on the blog service's database (its SQLite file by default); each run adds new posts.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from examples.blog import queries
from examples.blog.app import Blog, running_blog
from examples.blog.commands import AddComment, CreatePost, DeletePost, UpdatePost
from examples.blog.read_models import popular_posts, popular_table
from tidings.migrations import runner as migrations
from tidings.projections import all_checkpoints, rebuild, wait_for_position
from tidings.projections.registry import store_for
from tidings.settings import Settings

if TYPE_CHECKING:
    from tidings.system import System


async def run_demo(system: System, settings: Settings) -> None:
    console = Console(highlight=False)
    service = system.service("blog")
    async with system.database("blog", settings) as database:
        await migrations.upgrade(database, service)
        console.print(f"blog database: {database.safe_url}")
        store = store_for(system, database)
        async with running_blog(database, store, poll_interval=0.1) as blog:
            ids, last = await _write_and_read_back(blog, console)
            await _rebuild_while_reading(blog, last, console)
            await _show(blog, ids, last, console)


async def _write_and_read_back(blog: Blog, console: Console) -> tuple[list[str], int]:
    run = uuid.uuid4().hex[:6]
    ids = [f"{run}-{n}" for n in range(1, 4)]
    titles = ["Event sourcing in anger", "Outbox, not dual writes", "Sagas without tears"]
    for post_id, title in zip(ids, titles, strict=True):
        await blog.execute(CreatePost(post_id, title, f"All about {title.lower()}.", "ada"))
    await blog.execute(UpdatePost(ids[0], "Event sourcing, calmly", "A gentler take."))
    for n, post_id in enumerate(ids[:2] * 2 + ids[1:2]):
        await blog.execute(AddComment(post_id, f"{post_id}-c{n}", "bob", f"Nice post #{n}"))
    await blog.execute(DeletePost(ids[2]))

    written = await blog.execute(AddComment(ids[0], f"{ids[0]}-mine", "you", "My own comment"))
    view = await queries.comments_for(blog.database, ids[0], at_least=written.position)
    seen = any(c["comment_id"] == f"{ids[0]}-mine" for c in view.value)
    console.print(
        f"read-your-writes: the command wrote position {written.position}; "
        f"the query waited for it (fresh={view.fresh}) and sees the new comment: {seen}"
    )
    return ids, written.position or 0


async def _rebuild_while_reading(blog: Blog, last: int, console: Console) -> None:
    await wait_for_position(blog.database, popular_posts.name, last, timeout=5)
    counts: list[int] = []
    done = asyncio.Event()

    async def read() -> None:
        while not done.is_set():
            async with blog.database.connect() as connection:
                result = await connection.execute(select(func.count()).select_from(popular_table))
                counts.append(int(result.scalar_one()))
            await asyncio.sleep(0.001)

    reader = asyncio.create_task(read())
    try:
        result = await rebuild(blog.database, blog.store, popular_posts)
    finally:
        done.set()
        await reader
    console.print(
        f"rebuilt {result.projection} from {result.events} events beside the live table and "
        f"swapped it in at position {result.position}; {len(counts)} reads meanwhile saw "
        f"between {min(counts)} and {max(counts)} rows (never an empty table)"
    )


async def _show(blog: Blog, ids: list[str], last: int, console: Console) -> None:
    posts = await queries.list_posts(blog.database, at_least=last)
    console.print(_table("PostList", posts.value, ["post_id", "title", "author", "comments"]))
    detail = await queries.get_post(blog.database, ids[0], at_least=last)
    if detail.value is not None:
        console.print(
            _table(
                "PostDetail", [detail.value], ["post_id", "title", "body", "revisions", "deleted"]
            )
        )
    comments = await queries.comments_for(blog.database, ids[0], at_least=last)
    console.print(
        _table(f"CommentsByPost {ids[0]}", comments.value, ["comment_id", "author", "text"])
    )
    popular = await queries.most_popular(blog.database, limit=5, at_least=last)
    console.print(_table("PopularPosts", popular.value, ["post_id", "title", "comments"]))
    checkpoints = Table(title="Projection checkpoints")
    for column in ("projection", "position", "status"):
        checkpoints.add_column(column)
    for checkpoint in await all_checkpoints(blog.database):
        checkpoints.add_row(checkpoint.name, str(checkpoint.position), checkpoint.status.value)
    console.print(checkpoints)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[column]) for column in columns))
    return table
