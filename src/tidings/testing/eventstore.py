"""The event store conformance suite: every adapter, shipped or third-party, passes it.

Subclass :class:`EventStoreTestCase` (any store) or :class:`DatabaseEventStoreTestCase`
(a store on a :class:`~tidings.storage.database.Database`, exposed as
``store.database``) and implement the one hook, :meth:`~EventStoreTestCase.create_store`::

    class TestPostgresEventStore(DatabaseEventStoreTestCase):
        @asynccontextmanager
        async def create_store(self) -> AsyncIterator[EventStore]:
            async with temporary_database(Backend.POSTGRESQL) as database:
                await schema.install(database)
                yield PostgresEventStore(database)

The race tests use real concurrency (separate connections), and the late-commit
test holds a transaction open while later appends commit.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, suppress
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import text

from tidings.errors import AppendOnlyViolation, ConcurrencyError, IntegrityError
from tidings.eventstore.base import EventStore, NewEvent, RecordedEvent
from tidings.eventstore.diagnostics import events_behind, held_back_by
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work


def _events(count: int, kind: str = "Happened") -> list[NewEvent]:
    return [NewEvent(type=kind, data={"n": n, "text": "é ✓"}) for n in range(count)]


def _stream() -> str:
    return f"stream-{uuid.uuid4().hex[:12]}"


async def _read_everything(store: EventStore, after: int = 0) -> list[RecordedEvent]:
    collected: list[RecordedEvent] = []
    while batch := await store.read_all(after_position=after, limit=500):
        collected.extend(batch)
        after = batch[-1].position
    return collected


async def _wait_for(condition: Any, timeout: float = 20.0, interval: float = 0.02) -> None:
    """Poll an async predicate until it holds (other test runs share the servers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached within the timeout")
        await asyncio.sleep(interval)


class EventStoreTestCase:
    """The contract of :class:`~tidings.eventstore.base.EventStore`.

    Other sessions on a shared server may hold :meth:`read_all` back for a moment
    (that is the guarantee working), so tests wait for the head rather than assume it.
    """

    def create_store(self) -> AbstractAsyncContextManager[EventStore]:
        """An async context manager yielding a fresh, empty store."""
        raise NotImplementedError

    @pytest.fixture
    async def store(self) -> AsyncIterator[EventStore]:
        async with self.create_store() as store:
            yield store

    async def test_a_new_stream_is_at_version_zero(self, store: EventStore) -> None:
        assert await store.stream_version(_stream()) == 0
        assert await store.read_stream(_stream()) == []
        assert await store.head_position() == 0
        assert await store.read_all() == []

    async def test_append_and_read_back(self, store: EventStore) -> None:
        stream = _stream()
        given = NewEvent("Opened", {"owner": "ada", "items": [1, 2]}, 2, {"actor": "ada"}, None)
        first = await store.append(stream, [given, *_events(2)], expected_version=0)
        assert first.stream_version == 3
        assert list(first.positions) == sorted(first.positions)
        assert len(set(first.positions)) == 3
        read = await store.read_stream(stream)
        assert [e.stream_version for e in read] == [1, 2, 3]
        assert [e.position for e in read] == list(first.positions)
        assert read[0].type == "Opened"
        assert read[0].schema_version == 2
        assert read[0].data == {"owner": "ada", "items": [1, 2]}
        assert read[0].metadata == {"actor": "ada"}
        assert read[1].data == {"n": 0, "text": "é ✓"}
        assert read[0].recorded_at.tzinfo is not None
        assert len({e.event_id for e in read}) == 3
        assert await store.stream_version(stream) == 3

    async def test_given_event_ids_are_kept_and_unique(self, store: EventStore) -> None:
        event_id, stream = str(uuid.uuid4()), _stream()
        await store.append(stream, [NewEvent("A", {}, event_id=event_id)], expected_version=0)
        assert (await store.read_stream(stream))[0].event_id == event_id
        with pytest.raises(IntegrityError):
            await store.append(
                _stream(), [NewEvent("A", {}, event_id=event_id)], expected_version=0
            )

    async def test_wrong_expected_version_names_both_versions(self, store: EventStore) -> None:
        stream = _stream()
        await store.append(stream, _events(2), expected_version=0)
        for expected in (0, 1, 3):
            with pytest.raises(ConcurrencyError) as raised:
                await store.append(stream, _events(1), expected_version=expected)
            assert raised.value.expected == expected
            assert raised.value.actual == 2
            assert stream in raised.value.subject
        assert await store.stream_version(stream) == 2

    async def test_any_version_appends_at_the_end(self, store: EventStore) -> None:
        stream = _stream()
        await store.append(stream, _events(2), expected_version=None)
        result = await store.append(stream, _events(1), expected_version=None)
        assert result.stream_version == 3

    async def test_an_empty_append_checks_the_version(self, store: EventStore) -> None:
        stream = _stream()
        await store.append(stream, _events(1), expected_version=0)
        assert (await store.append(stream, [], expected_version=1)).stream_version == 1
        with pytest.raises(ConcurrencyError):
            await store.append(stream, [], expected_version=0)

    async def test_read_stream_bounds(self, store: EventStore) -> None:
        stream = _stream()
        await store.append(stream, _events(3), expected_version=0)
        await store.append(_stream(), _events(1), expected_version=0)
        middle = await store.append(stream, _events(2), expected_version=3)
        versions = [e.stream_version for e in await store.read_stream(stream, after_version=2)]
        assert versions == [3, 4, 5]
        assert len(await store.read_stream(stream, to_version=2)) == 2
        up_to = await store.read_stream(stream, to_position=middle.positions[0])
        assert [e.stream_version for e in up_to] == [1, 2, 3, 4]
        everything = await store.read_stream(stream)
        before = everything[2].recorded_at
        assert len(await store.read_stream(stream, to_time=before)) == 3
        assert await store.read_stream(stream, to_time=before - timedelta(days=1)) == []

    async def test_read_all_in_position_order(self, store: EventStore) -> None:
        appended: list[int] = []
        for _ in range(5):
            appended += (await store.append(_stream(), _events(3), expected_version=0)).positions

        async def all_visible() -> bool:
            return await store.head_position() == appended[-1]

        await _wait_for(all_visible)
        assert [e.position for e in await _read_everything(store)] == appended
        page = await store.read_all(after_position=appended[4], limit=4)
        assert [e.position for e in page] == appended[5:9]

    async def test_events_behind_counts_events_not_positions(self, store: EventStore) -> None:
        first = await store.append(_stream(), _events(2), expected_version=0)
        last = await store.append(_stream(), _events(3), expected_version=0)
        assert await events_behind(store, first.positions[0], last.last_position) == 4
        assert await events_behind(store, last.last_position, last.last_position) == 0

    async def test_exactly_one_of_two_appends_at_one_version_wins(self, store: EventStore) -> None:
        for round_ in range(6):
            stream = _stream()
            await store.append(stream, _events(1), expected_version=0)
            outcomes = await asyncio.gather(
                *(store.append(stream, _events(2), expected_version=1) for _ in range(3)),
                return_exceptions=True,
            )
            wins = [o for o in outcomes if not isinstance(o, BaseException)]
            losses = [o for o in outcomes if isinstance(o, BaseException)]
            assert len(wins) == 1, (round_, outcomes)
            conflicts = [loss for loss in losses if isinstance(loss, ConcurrencyError)]
            assert len(conflicts) == len(losses) == 2, losses
            assert all((c.expected, c.actual) == (1, 3) for c in conflicts)
            assert await store.stream_version(stream) == 3

    async def test_a_follower_never_skips_under_concurrent_writers(self, store: EventStore) -> None:
        writers, appends = 6, 12
        written: list[int] = []
        done = asyncio.Event()
        seen: list[int] = []

        async def write() -> None:
            for _ in range(appends):
                result = await store.append(_stream(), _events(2), expected_version=0)
                written.extend(result.positions)

        async def follow() -> None:
            checkpoint = 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while loop.time() < deadline:
                batch = await store.read_all(after_position=checkpoint, limit=7)
                seen.extend(event.position for event in batch)
                if batch:
                    checkpoint = batch[-1].position
                elif done.is_set() and len(seen) >= len(written):
                    return
                else:
                    await asyncio.sleep(0.005)

        follower = asyncio.create_task(follow())
        await asyncio.gather(*(write() for _ in range(writers)))
        done.set()
        await asyncio.wait_for(follower, 60)
        assert len(written) == writers * appends * 2
        # A skipped late commit would be missing here: the follower never looks back.
        assert seen == sorted(written)


class DatabaseEventStoreTestCase(EventStoreTestCase):
    """The parts of the contract that need a database: transactions and triggers."""

    concurrent_writers: ClassVar[bool] = True
    """False for backends with one writer at a time (SQLite): no late commit can happen."""

    @staticmethod
    def _database(store: EventStore) -> Database:
        database = getattr(store, "database", None)
        assert isinstance(database, Database), "a database store exposes .database"
        return database

    async def test_append_commits_with_the_callers_rows(self, store: EventStore) -> None:
        database = self._database(store)
        table = f"business_{uuid.uuid4().hex[:8]}"
        async with database.transaction() as connection:
            await connection.execute(text(f"CREATE TABLE {table} (id VARCHAR(36) PRIMARY KEY)"))
        committed, rolled_back = _stream(), _stream()
        async with unit_of_work(database) as uow:
            await uow.execute(text(f"INSERT INTO {table} (id) VALUES ('kept')"))
            await store.append(committed, _events(2), expected_version=0, uow=uow)

        async def fail_after_writing() -> None:
            async with unit_of_work(database) as uow:
                await uow.execute(text(f"INSERT INTO {table} (id) VALUES ('lost')"))
                await store.append(rolled_back, _events(2), expected_version=0, uow=uow)
                raise RuntimeError("the business rule failed")

        with pytest.raises(RuntimeError):
            await fail_after_writing()
        async with database.transaction() as connection:
            ids = (await connection.execute(text(f"SELECT id FROM {table}"))).scalars().all()
        assert ids == ["kept"]
        assert await store.stream_version(committed) == 2
        assert await store.stream_version(rolled_back) == 0

    async def test_a_conflict_inside_a_unit_of_work_raises(self, store: EventStore) -> None:
        database = self._database(store)
        stream = _stream()
        await store.append(stream, _events(1), expected_version=0)
        with pytest.raises(ConcurrencyError) as raised:
            async with unit_of_work(database) as uow:
                await store.append(stream, _events(1), expected_version=0, uow=uow)
        assert (raised.value.expected, raised.value.actual) == (0, 1)

    async def test_events_are_append_only(self, store: EventStore) -> None:
        database = self._database(store)
        stream = _stream()
        await store.append(stream, _events(1), expected_version=0)
        for statement in ("UPDATE events SET type = 'Forged'", "DELETE FROM events"):
            with pytest.raises(AppendOnlyViolation):
                async with database.transaction() as connection:
                    await connection.execute(text(statement))
        assert [e.type for e in await store.read_stream(stream)] == ["Happened"]

    async def test_writers_do_not_wait_for_each_other(self, store: EventStore) -> None:
        if not self.concurrent_writers:
            pytest.skip("this backend has one writer at a time by design")
        database = self._database(store)
        async with unit_of_work(database) as first:
            held = await store.append(_stream(), _events(1), expected_version=0, uow=first)
            # A second writer on its own connection appends and commits while the first
            # is still open: no lock serialises writers (it would time out here).
            async with unit_of_work(database) as second:
                other = await asyncio.wait_for(
                    store.append(_stream(), _events(1), expected_version=0, uow=second), 10
                )
        assert held.positions[0] != other.positions[0]

    async def test_a_follower_never_skips_late_commits_under_load(self, store: EventStore) -> None:
        """Writers hold their transactions open for random spans, some roll back, while
        a follower reads: it must end with exactly the committed events, in order."""
        if not self.concurrent_writers:
            pytest.skip("this backend has one writer at a time by design")
        database = self._database(store)
        committed: list[int] = []
        seen: list[int] = []
        done = asyncio.Event()
        chance = random.Random(7)

        async def write(writer: int) -> None:
            for n in range(8):
                hold, abort = chance.uniform(0, 0.03), (writer + n) % 5 == 0
                with suppress(_Abort):
                    async with unit_of_work(database) as uow:
                        result = await store.append(
                            _stream(), _events(2), expected_version=0, uow=uow
                        )
                        await asyncio.sleep(hold)  # the workload: a transaction that lingers
                        if abort:
                            raise _Abort
                    committed.extend(result.positions)

        async def follow() -> None:
            checkpoint = 0
            while not (done.is_set() and len(seen) >= len(committed)):
                batch = await store.read_all(after_position=checkpoint, limit=5)
                seen.extend(event.position for event in batch)
                if batch:
                    checkpoint = batch[-1].position
                else:
                    await asyncio.sleep(0.005)

        follower = asyncio.create_task(follow())
        await asyncio.gather(*(write(w) for w in range(4)))
        done.set()
        await asyncio.wait_for(follower, 60)
        assert seen == sorted(committed)

    def open_reader(self, store: EventStore) -> EventStore:
        """A second store on ``store``'s database, as a freshly started reader would
        have it (nothing remembered). Override when the constructor takes more."""
        return type(store)(self._database(store))  # type: ignore[call-arg]

    async def test_a_fresh_reader_reads_final_events_below_an_open_writer(
        self, store: EventStore
    ) -> None:
        """A reader started while a writer stays open reads every event before that
        writer's, no later one, and names the true head and what waits above it."""
        if not self.concurrent_writers:
            pytest.skip("this backend has one writer at a time by design")
        database = self._database(store)
        final = await store.append(_stream(), _events(3), expected_version=0)
        async with unit_of_work(database) as uow:
            late = await store.append(_stream(), _events(1), expected_version=0, uow=uow)
            later = await store.append(_stream(), _events(2), expected_version=0)
            reader = self.open_reader(store)

            async def final_visible() -> bool:
                return await reader.head_position() >= final.last_position

            await _wait_for(final_visible)
            seen = await _read_everything(reader)
            assert [e.position for e in seen] == list(final.positions)
            report = await held_back_by(reader)
            assert final.last_position <= report.head_position < late.positions[0]
            assert report.held_events == len(later.positions)
            assert report.is_held_back
        # The open writer committed: the same reader now passes it and the later append.

        async def all_visible() -> bool:
            return await reader.head_position() >= later.last_position

        await _wait_for(all_visible)
        rest = await _read_everything(reader, final.last_position)
        assert [e.position for e in rest] == [*late.positions, *later.positions]

    async def test_racing_appends_end_in_success_or_a_concurrency_error(
        self, store: EventStore
    ) -> None:
        """Writers race for the same stream versions, some roll back: every append either
        commits or raises ConcurrencyError (a deadlock between them is retried or becomes
        one), and the stream ends gap-free with exactly the committed events."""
        database = self._database(store)
        stream = _stream()
        committed: list[str] = []
        refused = aborted = 0

        async def write(writer: int) -> None:
            nonlocal refused, aborted
            for n in range(6):
                event = NewEvent(type="Raced", data={}, event_id=str(uuid.uuid4()))
                expected = None if (writer + n) % 3 == 0 else await store.stream_version(stream)
                try:
                    if (writer + n) % 4 == 0:
                        with suppress(_Abort):
                            async with unit_of_work(database) as uow:
                                await store.append(
                                    stream, [event], expected_version=expected, uow=uow
                                )
                                raise _Abort  # a rollback that releases waiting inserts
                        aborted += 1
                        continue
                    if (writer + n) % 2 == 0:
                        async with unit_of_work(database) as uow:
                            await store.append(stream, [event], expected_version=expected, uow=uow)
                    else:
                        await store.append(stream, [event], expected_version=expected)
                    committed.append(str(event.event_id))
                except ConcurrencyError:
                    refused += 1

        await asyncio.gather(*(write(w) for w in range(6)))
        recorded = await store.read_stream(stream)
        assert [e.stream_version for e in recorded] == list(range(1, len(recorded) + 1))
        assert sorted(e.event_id for e in recorded) == sorted(committed)
        # Any other error (a raw deadlock) would have ended the gather above.
        assert len(committed) + refused + aborted == 6 * 6
        assert committed

    async def test_writers_queued_behind_a_rolled_back_append_do_not_deadlock(
        self, store: EventStore
    ) -> None:
        """Four appends wait on an open one's stream version; it rolls back, they all
        go for that version at once (on MariaDB, a deadlock on the unique index). Each
        commits or raises ConcurrencyError: no deadlock error reaches the caller."""
        if not self.concurrent_writers:
            pytest.skip("this backend has one writer at a time by design")
        database = self._database(store)
        stream = _stream()
        await store.append(stream, _events(1), expected_version=0)
        racers: list[asyncio.Task[Any]] = []
        with suppress(_Abort):
            async with unit_of_work(database) as uow:
                await store.append(stream, _events(1), expected_version=1, uow=uow)
                racers = [
                    asyncio.create_task(store.append(stream, _events(1), expected_version=e))
                    for e in (1, 1, None, None)
                ]

                async def all_waiting() -> bool:
                    if any(racer.done() for racer in racers):
                        return True
                    async with database.read() as connection:
                        query = text(_LOCK_WAITERS[database.backend])
                        return int((await connection.execute(query)).scalar_one()) >= 4

                # MariaDB refreshes INNODB_TRX only after 0.1 s without a read of it.
                await _wait_for(all_waiting, interval=0.2)
                raise _Abort  # releases the four at once
        results = await asyncio.gather(*racers, return_exceptions=True)
        unexpected = [
            r
            for r in results
            if isinstance(r, BaseException) and not isinstance(r, ConcurrencyError)
        ]
        assert unexpected == []
        appended = [r for r in results if not isinstance(r, BaseException)]
        versions = [e.stream_version for e in await store.read_stream(stream)]
        assert versions == list(range(1, 2 + len(appended)))
        assert len(appended) >= 1

    async def test_a_late_commit_is_never_skipped(self, store: EventStore) -> None:
        if self.concurrent_writers:
            await self._hold_open_then(store, commit=True)
        else:
            await self._second_writer_waits(store, commit=True)

    async def test_an_aborted_late_append_releases_readers(self, store: EventStore) -> None:
        if self.concurrent_writers:
            await self._hold_open_then(store, commit=False)
        else:
            await self._second_writer_waits(store, commit=False)

    async def _second_writer_waits(self, store: EventStore, *, commit: bool) -> None:
        """With one writer at a time, a later append waits for the open one to end, so
        positions commit in order."""
        database = self._database(store)
        async with AsyncExitStack() as stack:
            uow = await stack.enter_async_context(unit_of_work(database))
            held = await store.append(_stream(), _events(1), expected_version=0, uow=uow)
            later = asyncio.create_task(store.append(_stream(), _events(1), expected_version=0))
            done, _ = await asyncio.wait({later}, timeout=0.3)
            assert not done, "a second writer committed while the first was open"
            if not commit:
                await uow.connection.rollback()
        result = await asyncio.wait_for(later, 20)
        positions = [e.position for e in await _read_everything(store)]
        if commit:
            assert positions == [held.positions[0], result.positions[0]]
            assert held.positions[0] < result.positions[0]
        else:
            assert positions == list(result.positions)

    async def _hold_open_then(self, store: EventStore, *, commit: bool) -> None:
        database = self._database(store)
        before = await store.append(_stream(), _events(1), expected_version=0)

        async def before_visible() -> bool:
            return await store.head_position() >= before.last_position

        await _wait_for(before_visible)
        held_open = asyncio.Event()
        finish = asyncio.Event()
        held: dict[str, Any] = {}

        async def slow_writer() -> None:
            async with unit_of_work(database) as uow:
                held["result"] = await store.append(
                    _stream(), _events(2), expected_version=0, uow=uow
                )
                held["session"] = int(
                    (await uow.execute(text(_SESSION_ID[database.backend]))).scalar_one()
                )
                held_open.set()
                await finish.wait()
                if not commit:
                    raise _Abort

        task = asyncio.create_task(slow_writer())
        try:
            await asyncio.wait_for(held_open.wait(), 20)
            later = await store.append(_stream(), _events(1), expected_version=0)
            late = held["result"]
            assert late.positions[0] < later.positions[0]
            # The later append is committed, yet no reader may pass the open one.
            passed = await store.read_all(after_position=before.last_position)
            assert passed == []
            assert await store.head_position() < late.positions[0]
            report = await held_back_by(store)
            assert report.held_events >= 1
            assert held["session"] in {b.connection_id for b in report.blockers}
        finally:
            finish.set()
            with suppress(_Abort):
                await asyncio.wait_for(task, 20)

        expected = [*late.positions, *later.positions] if commit else list(later.positions)

        async def released() -> bool:
            return await store.head_position() >= later.last_position

        await _wait_for(released)
        after = await _read_everything(store, before.last_position)
        assert [e.position for e in after] == expected


class _Abort(Exception):
    """Rolls the held-open unit of work back."""


# Sessions of this database waiting for a row lock.
_LOCK_WAITERS: dict[Backend, str] = {
    Backend.POSTGRESQL: "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'",
    Backend.MARIADB: "SELECT COUNT(*) FROM information_schema.INNODB_TRX AS t "
    "JOIN information_schema.PROCESSLIST AS p ON p.ID = t.trx_mysql_thread_id "
    "WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()",
    Backend.SQLITE: "SELECT 0",
}

_SESSION_ID: dict[Backend, str] = {
    Backend.POSTGRESQL: "SELECT pg_backend_pid()",
    Backend.MARIADB: "SELECT CONNECTION_ID()",
    Backend.SQLITE: "SELECT 0",
}
