"""Shared by the inbox tests: migrated databases, test messages, a fake delivery."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from tidings.brokers.base import Delivery
from tidings.messages import Event, MessageRegistry, encode
from tidings.migrations import runner
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork
from tidings.system import Service

registry = MessageRegistry()


@registry.register("users.ProfileRenamed")
class ProfileRenamed(Event):
    user_id: str
    name: str


@registry.register("users.UserDeleted")
class UserDeleted(Event):
    user_id: str


# The business table the test handlers write: one row per effect, so a second
# effect of one message shows as a second row.
effects_metadata = MetaData()
effects = Table(
    "effects",
    effects_metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(150), nullable=False),
    Column("value", String(200), nullable=False),
)

_REVISION = """
from tidings.inbox import ops
from tidings.migrations.ops import create_library_table, drop_library_table
from inbox_testkit import effects

revision = "inbox_test_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_inbox()
    ops.create_dead_letters()
    create_library_table(effects)


def downgrade() -> None:
    drop_library_table(effects)
    ops.drop_dead_letters()
    ops.drop_inbox()
"""

# What an existing service adds to keep per-aggregate order: a revision of its own.
_POSITIONS_REVISION = """
from tidings.inbox import ops

revision = "inbox_test_0002"
down_revision = "inbox_test_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_inbox_positions()


def downgrade() -> None:
    ops.drop_inbox_positions()
"""

#: The revision before the inbox kept positions (a database migrated before ordering).
BEFORE_POSITIONS = "inbox_test_0001"


def service_with_inbox(folder: Path, name: str = "svc") -> Service:
    """A service whose Alembic history creates inbox, dead_letters and effects, then
    (a second revision, as an existing service would add it) inbox_positions."""
    versions = folder / f"migrations_{uuid.uuid4().hex[:6]}"
    versions.mkdir()
    (versions / "inbox_test_0001.py").write_text(_REVISION)
    (versions / "inbox_test_0002.py").write_text(_POSITIONS_REVISION)
    return Service(name=name, metadata=effects_metadata, migrations=versions)


async def migrate(database: Database, folder: Path, revision: str = "head") -> Service:
    service = service_with_inbox(folder, database.service)
    await runner.upgrade(database, service, revision)
    return service


async def record_effect(uow: UnitOfWork, message_id: str, value: str) -> None:
    await uow.execute(
        insert(effects).values(id=str(uuid.uuid4()), message_id=message_id, value=value)
    )


async def effect_counts(database: Database) -> dict[str, int]:
    """message id -> number of effect rows."""
    async with database.transaction() as connection:
        rows = await connection.execute(
            select(effects.c.message_id, func.count()).group_by(effects.c.message_id)
        )
        return {row[0]: int(row[1]) for row in rows}


def message_bytes(
    event: Event, *, message_id: str | None = None, source: str = "users"
) -> tuple[str, bytes]:
    envelope = registry.envelope_for(event, source=source, message_id=message_id)
    return envelope.id, encode(envelope)


class FakeDelivery(Delivery):
    """A delivery that records how it was settled."""

    def __init__(
        self,
        body: bytes,
        *,
        message_id: str = "",
        topic: str = "users.ProfileRenamed",
        headers: Mapping[str, str] | None = None,
        attempt: int = 1,
        fail_ack: BaseException | None = None,
    ) -> None:
        self.message_id = message_id
        self.topic = topic
        self.body = body
        self.headers = dict(headers or {})
        self.attempt = attempt
        self.settled: list[tuple[str, Any]] = []
        self._fail_ack = fail_ack

    async def ack(self) -> None:
        if self._fail_ack is not None:
            raise self._fail_ack
        self.settled.append(("ack", None))

    async def nack(self, delay: float = 0.0) -> None:
        self.settled.append(("nack", delay))

    async def reject(self, reason: str) -> None:
        self.settled.append(("reject", reason))


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = 15.0, interval: float = 0.02
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
