"""Test helpers for the outbox: install it in a throw-away database the way a service
does (an Alembic history whose one revision calls
:func:`tidings.outbox.schema.create_outbox`), a broker that records what the relay
publishes, and a condition poller."""

from __future__ import annotations

import asyncio
import random
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy import MetaData

from tidings.brokers.base import Broker, Handler, OutgoingMessage, Subscription
from tidings.errors import BrokerError, BrokerUnavailable
from tidings.migrations import runner
from tidings.storage.database import Database
from tidings.system import Service

_REVISION = textwrap.dedent(
    '''
    """outbox"""
    from tidings.outbox.schema import create_outbox, drop_outbox

    revision = "tidings_outbox_0001"
    down_revision = None
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        create_outbox()


    def downgrade() -> None:
        drop_outbox()
    '''
)


def _service(database: Database, folder: Path) -> Service:
    (folder / "0001_outbox.py").write_text(_REVISION)
    return Service(name=database.service, metadata=MetaData(), migrations=folder)


async def install_outbox(database: Database) -> None:
    """Create the outbox table in ``database`` by running a one-revision history."""
    with tempfile.TemporaryDirectory(prefix="tidings_outbox_") as folder:
        await runner.upgrade(database, _service(database, Path(folder)))


async def uninstall_outbox(database: Database) -> None:
    """Run the revision's downgrade: the outbox table is dropped."""
    with tempfile.TemporaryDirectory(prefix="tidings_outbox_") as folder:
        await runner.downgrade(database, _service(database, Path(folder)), "base")


class RecordingBroker(Broker):
    """A broker that only records what is published, for relay tests.

    Every :meth:`publish` call is recorded (duplicates included) when its batch
    "arrives", a random ``0..arrival_jitter`` seconds after the call, then
    "confirmed" after ``confirm_delay`` more seconds: batches published at the same
    time arrive in any order, as on a real broker, so a relay that let two batches
    of one aggregate fly at once would be caught reordering them. :meth:`fail_next` makes
    the next calls fail as if the broker were down; ``after_confirm`` runs after a
    batch was recorded and confirmed, before :meth:`publish` returns (a fault
    there is a crash between the broker's confirm and the relay's mark).
    """

    def __init__(
        self,
        *,
        confirm_delay: float = 0.0,
        arrival_jitter: float = 0.0,
        after_confirm: Callable[[Sequence[OutgoingMessage]], Awaitable[None]] | None = None,
    ) -> None:
        self.url = "recording://"
        self.confirm_delay = confirm_delay
        self.arrival_jitter = arrival_jitter
        self.after_confirm = after_confirm
        self.published: list[OutgoingMessage] = []
        self.batches: list[list[OutgoingMessage]] = []
        self.failed_attempts = 0
        self._failures_left = 0
        self._failure: type[BrokerError] = BrokerUnavailable

    @property
    def ids(self) -> list[str]:
        return [message.message_id for message in self.published]

    def fail_next(self, times: int, error: type[BrokerError] = BrokerUnavailable) -> None:
        self._failures_left = times
        self._failure = error

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self) -> None:
        if self._failures_left:
            raise BrokerUnavailable("recording broker: down")

    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        raise NotImplementedError("a recording broker only records publishes")

    async def subscribe(
        self, queue: str, topics: Sequence[str], handler: Handler, *, prefetch: int = 64
    ) -> Subscription:
        raise NotImplementedError("a recording broker only records publishes")

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if self._failures_left > 0:
            self._failures_left -= 1
            self.failed_attempts += 1
            raise self._failure("recording broker: down (simulated)")
        batch = list(messages)
        if self.arrival_jitter:
            await asyncio.sleep(random.uniform(0, self.arrival_jitter))
        self.batches.append(batch)
        self.published.extend(batch)
        if self.confirm_delay:
            await asyncio.sleep(self.confirm_delay)
        if self.after_confirm is not None:
            await self.after_confirm(batch)


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str = "condition",
) -> None:
    """Poll ``condition`` until it holds; fail with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)
