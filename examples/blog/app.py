"""The composition root: one database, its event store, and a runner per read model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from examples.blog.commands import Command, Written, handle
from examples.blog.read_models import PROJECTIONS
from examples.blog.repository import PostRepository
from tidings.eventstore.base import EventStore
from tidings.projections import ProjectionRunner
from tidings.storage.database import Database


@dataclass
class Blog:
    database: Database
    store: EventStore
    runners: list[ProjectionRunner]

    @property
    def posts(self) -> PostRepository:
        return PostRepository(self.store)

    async def execute(self, command: Command) -> Written:
        """Run ``command``; nudge the runners so the read models follow at once."""
        written = await handle(command, self.posts)
        for runner in self.runners:
            runner.wake()
        return written


@asynccontextmanager
async def running_blog(
    database: Database, store: EventStore, *, poll_interval: float = 0.2
) -> AsyncIterator[Blog]:
    """The blog with every projection following live until the block ends."""
    runners = [
        ProjectionRunner(database, store, projection, poll_interval=poll_interval)
        for projection in PROJECTIONS
    ]
    async with AsyncExitStack() as stack:
        for runner in runners:
            await stack.enter_async_context(runner.running())
        yield Blog(database, store, runners)
