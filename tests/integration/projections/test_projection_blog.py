"""The blog example end to end: migrations, commands, four projections, rebuilds, the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examples.blog import queries
from examples.blog.app import running_blog
from examples.blog.commands import AddComment, CreatePost, DeletePost, UpdatePost
from examples.blog.read_models import PROJECTIONS
from examples.blog.system import system as blog_system
from tidings.cli import app as cli_app
from tidings.errors import ConcurrencyError, NotFound
from tidings.eventstore.factory import event_store_for
from tidings.migrations import runner as migrations
from tidings.projections import rebuild
from tidings.storage.database import Database

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
]


async def _snapshot(database: Database) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    async with database.connect() as connection:
        for projection in PROJECTIONS:
            for table in projection.tables:
                rows = await connection.execute(select(table).order_by(*table.primary_key))
                result[table.name] = [dict(row._mapping) for row in rows]
    return result


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_blog_read_models_follow_commands_and_survive_a_rebuild(
    backend: str, make_database: Any
) -> None:
    database: Database = await make_database(backend, service="blog")
    await migrations.upgrade(database, blog_system.service("blog"))
    store = event_store_for(database)

    async with running_blog(database, store, poll_interval=0.05) as blog:
        created = await blog.execute(CreatePost("p1", "First", "hello", "ada"))
        fresh = await queries.get_post(database, "p1", at_least=created.position)
        assert fresh.fresh
        assert fresh.value is not None
        assert fresh.value["title"] == "First"

        await blog.execute(CreatePost("p2", "Second", "more", "ada"))
        await blog.execute(CreatePost("p3", "Third", "gone soon", "bob"))
        await blog.execute(UpdatePost("p1", "First, edited", "hello again"))
        for n in range(3):
            await blog.execute(AddComment("p2", f"c{n}", "cy", f"comment {n}"))
        await blog.execute(AddComment("p1", "c9", "cy", "one"))
        last = await blog.execute(DeletePost("p3"))
        with pytest.raises(NotFound):
            await blog.execute(AddComment("missing", "c1", "x", "y"))

        posts = await queries.list_posts(database, at_least=last.position)
        detail = await queries.get_post(database, "p1", at_least=last.position)
        comments = await queries.comments_for(database, "p2", at_least=last.position)
        popular = await queries.most_popular(database, at_least=last.position)

        assert [p["post_id"] for p in posts.value] == ["p1", "p2"]
        assert detail.value is not None
        assert detail.value["revisions"] == 2
        assert [c["comment_id"] for c in comments.value] == ["c0", "c1", "c2"]
        assert [(p["post_id"], p["comments"]) for p in popular.value] == [("p2", 3), ("p1", 1)]

        before = await _snapshot(database)
        for projection in PROJECTIONS:
            await rebuild(database, store, projection)
        assert await _snapshot(database) == before


async def test_concurrent_edits_of_one_post_conflict(make_database: Any) -> None:
    database: Database = await make_database("sqlite", service="blog")
    await migrations.upgrade(database, blog_system.service("blog"))
    store = event_store_for(database)
    async with running_blog(database, store) as blog:
        await blog.execute(CreatePost("p1", "T", "b", "ada"))
        one = await blog.posts.get("p1")
        two = await blog.posts.get("p1")
        one.update("T1", "b", one_time())
        two.update("T2", "b", one_time())
        await blog.posts.save(one)
        with pytest.raises(ConcurrencyError):
            await blog.posts.save(two)


def one_time() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_the_cli_shows_status_and_rebuilds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'blog.db'}"
    monkeypatch.setenv("BLOG_DATABASE_URL", url)

    async def prepare() -> None:
        async with Database("blog", url) as database:
            await migrations.upgrade(database, blog_system.service("blog"))
            store = event_store_for(database)
            async with running_blog(database, store, poll_interval=0.05) as blog:
                await blog.execute(CreatePost("p1", "T", "b", "ada"))
                written = await blog.execute(AddComment("p1", "c1", "bob", "hi"))
                assert (await queries.most_popular(database, at_least=written.position)).fresh
            await store.append(
                "post-p2", [_created("p2")], expected_version=0
            )  # not yet projected: two positions behind

    asyncio.run(prepare())
    cli = CliRunner()

    status = cli.invoke(cli_app, ["projection", "status", "--system", "blog"], terminal_width=200)
    assert status.exit_code == 0, status.output
    for projection in PROJECTIONS:
        assert projection.name in status.output
    assert "live" in status.output
    assert " 1 " in status.output

    rebuilt = cli.invoke(
        cli_app, ["projection", "rebuild", "popular_posts", "--system", "blog"], terminal_width=200
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt popular_posts: 3 events replayed" in rebuilt.output

    async def popular() -> list[str]:
        async with Database("blog", url) as database:
            return [p["post_id"] for p in (await queries.most_popular(database)).value]

    assert asyncio.run(popular()) == ["p1", "p2"]


def _created(post_id: str) -> Any:
    from examples.blog.domain import PostCreated, event_data
    from tidings.eventstore.base import NewEvent

    event = PostCreated(post_id, "Later", "b", "ada", one_time().isoformat())
    return NewEvent(event.type, event_data(event))


async def test_the_demo_runs_on_the_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples.blog.demo import run_demo
    from tidings.settings import Settings

    monkeypatch.delenv("BLOG_DATABASE_URL", raising=False)
    await run_demo(blog_system, Settings(data_dir=tmp_path))

    printed = capsys.readouterr().out
    assert "sees the new comment: True" in printed
    assert "never an empty table" in printed
    assert (tmp_path / "blog" / "blog.db").exists()
