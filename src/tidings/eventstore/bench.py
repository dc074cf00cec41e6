"""``tidings bench eventstore``: the event store against the ``eventsourcing`` library
and against raw inserts, on the same PostgreSQL server, in one run.

Every figure is measured in this run on throw-away databases (created and dropped
through :mod:`tidings.testing.databases`); only the ratios mean something across
machines. The two sides of each ratio run interleaved, in short alternating bursts,
so that load from elsewhere on the machine falls on both alike.

``quick`` shrinks every size (100,000 instead of 1,000,000 events for the
latency check, 20,000 for the catch-up) so a smoke run takes seconds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Column, MetaData, String, Table, insert, text, update

from tidings.eventstore import schema
from tidings.eventstore.aggregate import Aggregate, DomainEvent, Repository
from tidings.eventstore.base import EventStore, NewEvent, RecordedEvent
from tidings.eventstore.mariadb import MariaDBEventStore
from tidings.eventstore.postgres import PostgresEventStore
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.testing.databases import (
    create_database,
    drop_database,
    server_answers,
    unique_name,
)

GOALS = {"ratio_8w": 5.0, "ratio_1w": 1.5, "ratio_load": 2.0, "ratio_catchup": 0.5}
LATENCY_GROWTH_LIMIT = 1.2


@dataclass(frozen=True)
class BenchConfig:
    seconds: float = 4.0
    """How long each throughput measurement runs."""
    writers: int = 8
    load_events: int = 10_000
    load_repeats: int = 5
    catchup_events: int = 200_000
    batch: int = 1000
    big_store_events: int = 1_000_000
    latency_samples: int = 400
    mariadb: bool = True
    """Also measure MariaDB's slot protocol with 1 and 8 writers."""

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(
            seconds=1.0,
            load_events=2_000,
            load_repeats=2,
            catchup_events=20_000,
            big_store_events=100_000,
            latency_samples=100,
        )


class Created(DomainEvent):
    owner: str


class ItemAdded(DomainEvent):
    item: str


class BenchCart(Aggregate):
    event_types: ClassVar[tuple[type[DomainEvent], ...]] = (Created, ItemAdded)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.items: list[str] = []

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, ItemAdded):
            self.items.append(event.item)


def _two_events() -> list[NewEvent]:
    return [NewEvent("Created", {"owner": "ada"}), NewEvent("ItemAdded", {"item": "book"})]


@asynccontextmanager
async def _scratch_database(backend: Backend, pool_size: int = 10) -> AsyncIterator[Database]:
    name = unique_name("tidings_bench")
    url = await create_database(backend, name)
    database = Database("bench", url, pool_size=pool_size)
    try:
        yield database
    finally:
        await database.close()
        await drop_database(backend, name)


Burst = Callable[[float], Awaitable[tuple[int, float]]]
"""Run for about so many seconds; return (operations done, seconds taken)."""


async def saves(store: EventStore, writers: int, seconds: float) -> tuple[int, float]:
    """New aggregates with two events each, from ``writers`` concurrent sessions."""
    count = 0
    stop = time.perf_counter() + seconds

    async def write() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            await store.append(f"BenchCart-{uuid.uuid4()}", _two_events(), expected_version=0)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(write() for _ in range(writers)))
    return count, time.perf_counter() - started


async def interleaved(
    ours: Burst, theirs: Burst, seconds: float, rounds: int = 8
) -> tuple[float, float]:
    """Both sides' rates per second, from ``rounds`` alternating bursts each."""
    done, taken = [0, 0], [0.0, 0.0]
    for round_ in range(rounds):
        order = (0, 1) if round_ % 2 == 0 else (1, 0)
        for side in order:
            count, elapsed = await (ours, theirs)[side](seconds / rounds)
            done[side] += count
            taken[side] += elapsed
    return done[0] / taken[0], done[1] / taken[1]


async def big_aggregate(store: EventStore, events: int) -> str:
    """Store one cart of ``events`` events; return its id."""
    cart_id = str(uuid.uuid4())
    stream = Repository(store, BenchCart).stream_id(cart_id)
    version = 0
    while version < events:
        size = min(1000, events - version)
        batch = [NewEvent("ItemAdded", {"item": f"item-{version + n}"}) for n in range(size)]
        if version == 0:
            batch[0] = NewEvent("Created", {"owner": "ada"})
        version = (await store.append(stream, batch, expected_version=version)).stream_version
    return cart_id


async def load_once(store: EventStore, cart_id: str, events: int) -> float:
    """Seconds to load the cart (no snapshots) through a repository."""
    started = time.perf_counter()
    cart = await Repository(store, BenchCart).load(cart_id)
    elapsed = time.perf_counter() - started
    assert cart.version == events
    return elapsed


_read_model_metadata = MetaData()
read_model = Table(
    "bench_read_model",
    _read_model_metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("stream_id", String(200), nullable=False),
    Column("type", String(200), nullable=False),
    Column("data", JSON, nullable=False),
)
checkpoints = Table(
    "bench_checkpoints",
    _read_model_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
raw_rows = Table(
    "bench_raw_rows",
    _read_model_metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("stream_id", String(200), nullable=False),
    Column("type", String(200), nullable=False),
    Column("data", JSON, nullable=False),
)


_INSERT_READ_MODEL = (
    "INSERT INTO {table} (position, stream_id, type, data) VALUES ($1, $2, $3, $4::json)"
)


async def _seed(store: EventStore, events: int, per_stream: int = 1000) -> None:
    async def fill(streams: range) -> None:
        for index in streams:
            size = min(per_stream, events - index * per_stream)
            batch = [NewEvent("ItemAdded", {"item": f"item-{n}", "n": n}) for n in range(size)]
            await store.append(f"seed-{index}", batch, expected_version=0)

    streams = (events + per_stream - 1) // per_stream
    await asyncio.gather(*(fill(range(part, streams, 4)) for part in range(4)))


async def catchup_vs_raw(
    store: PostgresEventStore, events: int, batch: int, segment: int = 10
) -> tuple[float, float]:
    """A projection catching up into a read model, and raw batched inserts of its rows,
    in alternating segments of ``segment`` batches: (events/s, rows/s)."""
    database = store.database
    async with database.transaction() as connection:
        await connection.run_sync(_read_model_metadata.create_all)
        await connection.execute(insert(checkpoints).values(name="bench", position=0))
    await _seed(store, events)
    raw_url = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    import asyncpg

    raw = await asyncpg.connect(raw_url)
    seen, checkpoint = 0, 0
    ours_time, raw_time = 0.0, 0.0
    ready: list[RecordedEvent] | None = None
    try:
        while seen < events:
            started = time.perf_counter()
            written: list[list[tuple[int, str, str, str]]] = []
            ahead = asyncio.create_task(store.read_all(after_position=checkpoint, limit=batch))
            if ready is not None:
                ahead.cancel()
                page, ready = ready, None
            else:
                page = await ahead
            while True:
                if not page:
                    await asyncio.sleep(0.01)  # another transaction holds the reader back
                    page = await store.read_all(after_position=checkpoint, limit=batch)
                    continue
                checkpoint = page[-1].position
                seen += len(page)
                last = seen >= events or len(written) + 1 >= segment
                # Read the next page while this one is written (positions only move forward).
                if seen < events:
                    ahead = asyncio.create_task(
                        store.read_all(after_position=checkpoint, limit=batch)
                    )
                values = [(e.position, e.stream_id, e.type, json.dumps(e.data)) for e in page]
                # The rows and the checkpoint commit together: the projection's contract.
                # The rows go in as the raw side sends them (one prepared INSERT, executemany),
                # so the ratio measures what the store and the loop cost.
                async with database.transaction() as connection:
                    await connection.execute(
                        update(checkpoints)
                        .where(checkpoints.c.name == "bench")
                        .values(position=checkpoint)
                    )
                    await connection.exec_driver_sql(
                        _INSERT_READ_MODEL.format(table="bench_read_model"), values
                    )
                written.append(values)
                if seen >= events:
                    break
                page = await ahead
                if last:
                    ready = page
                    break
            ours_time += time.perf_counter() - started

            started = time.perf_counter()
            for values in written:
                async with raw.transaction():
                    await raw.executemany(_INSERT_READ_MODEL.format(table="bench_raw_rows"), values)
            raw_time += time.perf_counter() - started
    finally:
        await raw.close()
    return seen / ours_time, seen / raw_time


async def _bulk_seed(database: Database, events: int) -> None:
    """Fill the store fast with plain SQL (positions still come from the trigger)."""
    chunk = 100_000
    for start in range(0, events, chunk):
        stop = min(events, start + chunk) - 1
        async with database.transaction() as connection:
            await connection.execute(
                text(
                    "INSERT INTO events (event_id, stream_id, stream_version, type, "
                    "schema_version, data, metadata, recorded_at) "
                    "SELECT gen_random_uuid()::text, 'seed-' || (g / 100), g % 100 + 1, "
                    "'Seeded', 1, '{\"n\": 1}', '{}', now() "
                    "FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g"
                ),
                {"a": start, "b": stop},
            )
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE events"))


async def append_latency(empty: EventStore, full: EventStore, samples: int) -> tuple[float, float]:
    """Median single-append latency (ms) on both stores, sampled alternately so that
    load from elsewhere on the server hits both alike."""
    timings: dict[int, list[float]] = {0: [], 1: []}
    stores = (empty, full)
    for sample in range(samples * 2):
        which = sample % 2
        started = time.perf_counter()
        await stores[which].append(f"BenchCart-{uuid.uuid4()}", _two_events(), expected_version=0)
        timings[which].append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[0]), statistics.median(timings[1])


def _peer_env(database: Database) -> tuple[str, str, int, str, str]:
    url = database.url
    return (
        str(url.database),
        str(url.host or "127.0.0.1"),
        int(url.port or 5432),
        str(url.username or "postgres"),
        str(url.password or ""),
    )


async def _timed(label: str, step: Callable[[], Awaitable[Any]], log: Callable[[str], None]) -> Any:
    started = time.perf_counter()
    log(f"{label} ...")
    result = await step()
    log(f"{label}: done in {time.perf_counter() - started:.1f}s")
    return result


async def run(config: BenchConfig, log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Run every measurement; return the figures (the ``--json`` document)."""
    from tidings.eventstore import _bench_peer as peer

    results: dict[str, Any] = {"config": asdict(config)}
    writers = config.writers
    async with (
        _scratch_database(Backend.POSTGRESQL, pool_size=writers + 2) as ours_db,
        _scratch_database(Backend.POSTGRESQL) as peer_db,
    ):
        await schema.install(ours_db)
        store = PostgresEventStore(ours_db)
        app = peer.peer_application(*_peer_env(peer_db))
        try:

            def peer_burst(count: int) -> Burst:
                return lambda seconds: asyncio.to_thread(peer.peer_saves, app, count, seconds)

            def ours_burst(count: int) -> Burst:
                return lambda seconds: saves(store, count, seconds)

            await interleaved(ours_burst(writers), peer_burst(writers), 0.5, rounds=2)  # warm up
            for count, name in ((1, "1w"), (writers, "8w")):
                log(f"append, {count} writer(s): tidings and eventsourcing, interleaved ...")
                ours, theirs = await interleaved(
                    ours_burst(count), peer_burst(count), 2 * config.seconds
                )
                results[f"append_{name}"], results[f"peer_append_{name}"] = ours, theirs

            log(f"load a {config.load_events}-event aggregate, both, interleaved ...")
            cart_id = await big_aggregate(store, config.load_events)
            peer_id = await asyncio.to_thread(peer.peer_big_aggregate, app, config.load_events)
            ours_time, peer_time = 0.0, 0.0
            for _ in range(config.load_repeats):
                ours_time += await load_once(store, cart_id, config.load_events)
                peer_time += await asyncio.to_thread(
                    peer.peer_load, app, peer_id, config.load_events
                )
            loaded = config.load_events * config.load_repeats
            results["load_events_per_s"] = loaded / ours_time
            results["peer_load_events_per_s"] = loaded / peer_time
        finally:
            app.close()

    async with _scratch_database(Backend.POSTGRESQL) as database:
        await schema.install(database)
        catchup, raw = await _timed(
            f"projection catch-up over {config.catchup_events} events and raw inserts",
            lambda: catchup_vs_raw(
                PostgresEventStore(database), config.catchup_events, config.batch
            ),
            log,
        )
        results["catchup_events_per_s"] = catchup
        results["raw_insert_rows_per_s"] = raw

    async with (
        _scratch_database(Backend.POSTGRESQL) as empty_db,
        _scratch_database(Backend.POSTGRESQL) as full_db,
    ):
        await schema.install(empty_db)
        await schema.install(full_db)
        await _timed(
            f"fill a store with {config.big_store_events} events",
            lambda: _bulk_seed(full_db, config.big_store_events),
            log,
        )
        empty_ms, full_ms = await _timed(
            "append latency, empty store vs full store",
            lambda: append_latency(
                PostgresEventStore(empty_db), PostgresEventStore(full_db), config.latency_samples
            ),
            log,
        )
        results["append_latency_empty_ms"] = empty_ms
        results["append_latency_full_ms"] = full_ms
        results["big_store_events"] = config.big_store_events

    if config.mariadb and server_answers("mariadb"):
        async with _scratch_database(Backend.MARIADB, pool_size=writers + 2) as database:
            await schema.install(database)
            maria = MariaDBEventStore(database)
            many, one = await _timed(
                f"MariaDB append, {writers} writers vs 1, interleaved",
                lambda: interleaved(
                    lambda seconds: saves(maria, writers, seconds),
                    lambda seconds: saves(maria, 1, seconds),
                    2 * config.seconds,
                ),
                log,
            )
            results["mariadb_append_1w"], results["mariadb_append_8w"] = one, many

    return summarise(results)


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Add the ratios and whether each goal was met."""

    def ratio(ours: str, theirs: str) -> float | None:
        if not results.get(theirs):
            return None
        return round(float(results[ours]) / float(results[theirs]), 2)

    results["ratio_1w"] = ratio("append_1w", "peer_append_1w")
    results["ratio_8w"] = ratio("append_8w", "peer_append_8w")
    results["ratio_load"] = ratio("load_events_per_s", "peer_load_events_per_s")
    results["ratio_catchup"] = ratio("catchup_events_per_s", "raw_insert_rows_per_s")
    results["append_latency_growth"] = ratio("append_latency_full_ms", "append_latency_empty_ms")
    if "mariadb_append_8w" in results:
        results["mariadb_scaling_8w"] = ratio("mariadb_append_8w", "mariadb_append_1w")
    goals = {
        name: results.get(name) is not None and results[name] >= goal
        for name, goal in GOALS.items()
    }
    growth = results.get("append_latency_growth")
    goals["append_latency_growth"] = growth is not None and growth <= LATENCY_GROWTH_LIMIT
    results["goals_met"] = goals
    for key, value in list(results.items()):
        if isinstance(value, float):
            results[key] = round(value, 2)
    return results
