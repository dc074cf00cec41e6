"""The in-process broker's "server": queues, routing and their SQLite journal.

One :class:`Hub` per path (and one for volatile ``memory://``) per event loop;
every :class:`~tidings.brokers.memory.MemoryBroker` opened on that URL is a
connection to it, so services of one process meet the same queues, as services
sharing a RabbitMQ server would. The hub closes with its last connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tidings.brokers._sqlite_journal import SQLiteJournal
from tidings.brokers._topics import check_topic, matches
from tidings.brokers.base import OutgoingMessage
from tidings.brokers.dead_letters import DeadLetter
from tidings.errors import PublishNotConfirmed


@dataclass(eq=False)
class Stored:
    seq: int
    namespace: str
    queue: str
    message_id: str
    topic: str
    body: bytes
    headers: Mapping[str, str]
    ordering_key: str | None
    deliveries: int = 0
    available_at: float = 0.0

    def row(self) -> tuple[Any, ...]:
        return (
            self.seq,
            self.namespace,
            self.queue,
            self.message_id,
            self.topic,
            self.body,
            json.dumps(dict(self.headers)),
            self.ordering_key,
            self.deliveries,
            self.available_at,
        )


@dataclass(eq=False)
class Queue:
    name: str
    patterns: set[str] = field(default_factory=set)
    ready: list[tuple[int, Stored]] = field(default_factory=list)
    delayed: list[tuple[float, int, Stored]] = field(default_factory=list)
    waiters: set[asyncio.Future[None]] = field(default_factory=set)

    def push_ready(self, stored: Stored) -> None:
        heapq.heappush(self.ready, (stored.seq, stored))
        self.notify()

    def push_delayed(self, stored: Stored) -> None:
        heapq.heappush(self.delayed, (stored.available_at, stored.seq, stored))
        self.notify()

    def promote_due(self, now: float) -> float | None:
        """Move due delayed messages to ready; seconds until the next one is due."""
        while self.delayed and self.delayed[0][0] <= now:
            _, _, stored = heapq.heappop(self.delayed)
            heapq.heappush(self.ready, (stored.seq, stored))
        return self.delayed[0][0] - now if self.delayed else None

    def take(self, count: int) -> list[Stored]:
        taken: list[Stored] = []
        while self.ready and len(taken) < count:
            taken.append(heapq.heappop(self.ready)[1])
        return taken

    def notify(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()

    async def wait(self, timeout: float | None) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self.waiters.discard(waiter)


class Hub:
    """Queues and their journal, shared by every connection to one URL (see the module)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.loop = asyncio.get_running_loop()
        self.connections = 0
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.journal = SQLiteJournal(path or ":memory:")
        self.queues: dict[tuple[str, str], Queue] = {}
        self.next_seq = 1

    async def open(self) -> None:
        await self.journal.open()
        bindings, messages, last_seq = await self.journal.read(_load)
        self.next_seq = last_seq + 1
        for namespace, name, pattern in bindings:
            self.queue(namespace, name).patterns.add(pattern)
        now = time.time()
        for stored in messages:
            queue = self.queue(stored.namespace, stored.queue)
            if stored.available_at > now:
                queue.push_delayed(stored)
            else:
                queue.push_ready(stored)

    def queue(self, namespace: str, name: str) -> Queue:
        queue = self.queues.get((namespace, name))
        if queue is None:
            queue = self.queues[(namespace, name)] = Queue(name)
        return queue

    async def declare(self, namespace: str, name: str, patterns: Sequence[str]) -> Queue:
        queue = self.queue(namespace, name)
        new = [pattern for pattern in patterns if pattern not in queue.patterns]
        if new:
            rows = [(namespace, name, pattern) for pattern in new]
            await self.journal.write(
                lambda c: c.executemany(
                    "INSERT OR IGNORE INTO broker_bindings VALUES (?, ?, ?)", rows
                )
            )
            queue.patterns.update(new)
        return queue

    async def publish(
        self, namespace: str, messages: Sequence[OutgoingMessage], *, mandatory: bool
    ) -> None:
        copies: list[Stored] = []
        now = time.time()
        for message in messages:
            check_topic(message.topic)
            targets = [
                queue
                for (space, _), queue in self.queues.items()
                if space == namespace
                and any(matches(pattern, message.topic) for pattern in queue.patterns)
            ]
            if not targets and mandatory:
                raise PublishNotConfirmed(
                    f"no queue is bound to topic {message.topic!r} (mandatory publish)"
                )
            for queue in targets:
                copies.append(
                    Stored(
                        seq=self.next_seq,
                        namespace=namespace,
                        queue=queue.name,
                        message_id=message.message_id,
                        topic=message.topic,
                        body=bytes(message.body),
                        headers=dict(message.headers),
                        ordering_key=message.ordering_key,
                        available_at=now,
                    )
                )
                self.next_seq += 1
        if not copies:
            return
        rows = [stored.row() for stored in copies]
        try:
            await self.journal.write(
                lambda c: c.executemany(
                    "INSERT INTO broker_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
            )
        except (sqlite3.Error, OSError) as error:
            raise PublishNotConfirmed(f"publish: {error}") from error
        for stored in copies:
            self.queue(namespace, stored.queue).push_ready(stored)

    def delivered(self, taken: list[Stored]) -> None:
        for stored in taken:
            stored.deliveries += 1
        seqs = [(stored.seq,) for stored in taken]
        # Not awaited: a count lost in a crash only makes one attempt look like it never happened.
        self.journal.write_soon(
            lambda c: c.executemany(
                "UPDATE broker_messages SET deliveries = deliveries + 1 WHERE seq = ?", seqs
            )
        )

    async def ack(self, stored: Stored) -> None:
        seq = stored.seq
        await self.journal.write(
            lambda c: c.execute("DELETE FROM broker_messages WHERE seq = ?", (seq,))
        )

    async def requeue(self, stored: Stored, delay: float) -> None:
        queue = self.queue(stored.namespace, stored.queue)
        if delay <= 0:
            queue.push_ready(stored)
            return
        stored.available_at = time.time() + delay
        row = (stored.available_at, stored.seq)
        await self.journal.write(
            lambda c: c.execute("UPDATE broker_messages SET available_at = ? WHERE seq = ?", row)
        )
        queue.push_delayed(stored)

    async def bury(self, stored: Stored, reason: str) -> None:
        dead = (
            stored.namespace,
            stored.queue,
            stored.message_id,
            stored.topic,
            stored.body,
            json.dumps(dict(stored.headers)),
            reason,
            stored.deliveries,
            time.time(),
        )
        seq = stored.seq

        def move(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO broker_dead_letters (namespace, queue, message_id, topic, body,"
                " headers, reason, attempts, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                dead,
            )
            connection.execute("DELETE FROM broker_messages WHERE seq = ?", (seq,))

        await self.journal.write(move)

    async def dead_letters(self, namespace: str, queue: str, limit: int) -> list[DeadLetter]:
        def select(connection: sqlite3.Connection) -> list[DeadLetter]:
            rows = connection.execute(
                "SELECT message_id, topic, body, headers, reason, attempts FROM broker_dead_letters"
                " WHERE namespace = ? AND queue = ? ORDER BY id LIMIT ?",
                (namespace, queue, limit),
            ).fetchall()
            return [
                DeadLetter(
                    queue=queue,
                    message_id=row[0],
                    topic=row[1],
                    body=bytes(row[2]),
                    headers=json.loads(row[3]),
                    reason=row[4],
                    attempts=row[5],
                )
                for row in rows
            ]

        return await self.journal.read(select)


def _load(
    connection: sqlite3.Connection,
) -> tuple[list[tuple[str, str, str]], list[Stored], int]:
    bindings = connection.execute(
        "SELECT namespace, queue, pattern FROM broker_bindings"
    ).fetchall()
    rows = connection.execute(
        "SELECT seq, namespace, queue, message_id, topic, body, headers, ordering_key,"
        " deliveries, available_at FROM broker_messages ORDER BY seq"
    ).fetchall()
    messages = [
        Stored(
            seq=row[0],
            namespace=row[1],
            queue=row[2],
            message_id=row[3],
            topic=row[4],
            body=bytes(row[5]),
            headers=json.loads(row[6]),
            ordering_key=row[7],
            deliveries=row[8],
            available_at=row[9],
        )
        for row in rows
    ]
    last_seq = connection.execute("SELECT coalesce(max(seq), 0) FROM broker_messages").fetchone()
    return [(row[0], row[1], row[2]) for row in bindings], messages, int(last_seq[0])


#: Open hubs by path ("" for volatile); a hub of a loop that is gone is replaced.
_HUBS: dict[str, Hub] = {}


def _key(path: str | None) -> str:
    return os.path.abspath(path) if path else ""


async def acquire_hub(path: str | None) -> Hub:
    """A connection to the hub for ``path`` (None: volatile), opening it if needed."""
    key = _key(path)
    hub = _HUBS.get(key)
    if hub is None or hub.loop is not asyncio.get_running_loop() or hub.loop.is_closed():
        hub = _HUBS[key] = Hub(path)
        try:
            await hub.open()
        except BaseException as error:
            del _HUBS[key]
            if isinstance(error, Exception):
                hub.opened.set_exception(error)
                hub.opened.exception()  # retrieved here; the opener raises it below
            else:
                hub.opened.cancel()
            with contextlib.suppress(Exception):
                await hub.journal.close()
            raise
        hub.opened.set_result(None)
    else:
        await asyncio.shield(hub.opened)
    hub.connections += 1
    return hub


async def release_hub(hub: Hub) -> None:
    hub.connections -= 1
    if hub.connections > 0:
        return
    if _HUBS.get(_key(hub.path)) is hub:
        del _HUBS[_key(hub.path)]
    await hub.journal.close()
