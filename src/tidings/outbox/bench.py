"""``tidings bench relay``: the outbox, relay and inbox end to end, against the raw
publish rate of the same broker, measured in one run.

Events are committed through the outbox on one throw-away PostgreSQL database,
relayed to the broker, and consumed through an inbox into a second throw-away
PostgreSQL database by a consumer in a child process (so the two ends do not
share one Python core). Reported, all from this run:

* ``throughput``: committed events per second, from the first commit upstream to
  the last commit downstream, with ``writers`` producers going as fast as they can;
* ``p50_ms`` / ``p99_ms``: commit upstream to commit downstream, per event, in that run;
* ``raw_publish_rate``: the same broker, message size, batch size, confirm window
  and number of concurrent batches, publishing without the outbox; ``ratio`` is
  ``throughput / raw_publish_rate`` (the goal: :data:`GOALS`);
* ``p99_ms_at_half_rate``: the p99 latency with producers paced at half the
  measured ``throughput``;
* ``relay_rate``: the relay alone, draining an outbox filled beforehand to the same
  broker (confirmed, stored in a queue, marked) with nothing consuming; ``relay_ratio``
  is ``relay_rate / raw_publish_rate``. Beside ``ratio`` it tells the relay's own cost
  from what consuming adds on the broker and the machine;
* ``lost`` (committed, never applied) and ``duplicate_effects`` (applied more
  than once): both must be 0.

Downstream times are taken inside the consuming transaction, just before its
commit, with the same system clock as the producer's (one machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table, func, insert, select
from sqlalchemy.engine import make_url

from tidings.brokers.base import Broker, OutgoingMessage
from tidings.inbox.tables import dead_letters, inbox
from tidings.messages import Envelope, Event, MessageRegistry, encode
from tidings.outbox.relay import Relay
from tidings.outbox.table import outbox
from tidings.outbox.writer import add_envelopes
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork, unit_of_work
from tidings.testing.databases import create_database, drop_database, unique_name

GOALS = {"ratio": 0.8, "p99_ms_at_half_rate": 50.0}
BROKER_URLS = {
    "rabbitmq": os.environ.get("TIDINGS_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "nats": os.environ.get("TIDINGS_BENCH_NATS_URL", "nats://127.0.0.1:4222"),
}
CONSUMER = "bench"
QUEUE_SERVICE = "benchdown"
RAW_QUEUE = "raw"
CONSUMER_POOL = 8
RAW_TOPIC = "bench.Raw"
RELAY_SINK = "sink"

registry = MessageRegistry()


@registry.register("bench.Happened")
class Happened(Event):
    n: int
    note: str


# One row per effect (no unique key on message_id), so a second effect shows.
_effects_metadata = MetaData()
effects = Table(
    "bench_effects",
    _effects_metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(150), nullable=False),
    Column("applied_ns", BigInteger, nullable=False),
)

Log = Callable[[str], None]


def _kind(broker: str) -> tuple[str, str]:
    """(``rabbitmq`` or ``nats``, URL) for a broker name or URL."""
    if broker in BROKER_URLS:
        return broker, BROKER_URLS[broker]
    if broker.startswith(("amqp://", "amqps://")):
        return "rabbitmq", broker
    if broker.startswith(("nats://", "tls://")):
        return "nats", broker
    raise ValueError(f"broker {broker!r}: use rabbitmq, nats or a URL of one of them")


def _open_broker(kind: str, url: str, namespace: str, confirm_window: int) -> Broker:
    if kind == "rabbitmq":
        from tidings.brokers.rabbitmq import RabbitMQBroker

        return RabbitMQBroker(url, namespace=namespace, confirm_window=confirm_window)
    from tidings.brokers.nats import NatsBroker

    return NatsBroker(url, namespace=namespace, confirm_window=confirm_window)


def _envelope(n: int, aggregate: str, version: int) -> Envelope:
    # About 300 bytes of envelope: a typical small domain event.
    return registry.envelope_for(
        Happened(n=n, note="x" * 40),
        source="benchup",
        aggregate_type="bench",
        aggregate_id=aggregate,
        aggregate_version=version,
    )


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextlib.asynccontextmanager
async def _scratch_database(service: str, pool_size: int) -> AsyncIterator[Database]:
    name = unique_name("tidings_relaybench")
    url = await create_database(Backend.POSTGRESQL, name)
    database = Database(service, url, pool_size=pool_size)
    try:
        yield database
    finally:
        await database.close()
        await drop_database(Backend.POSTGRESQL, name)


async def _create_tables(database: Database, *tables: Table) -> None:
    async with database.transaction() as connection:
        for table in tables:
            await connection.run_sync(table.create)


class _Producer:
    """Commits events through the outbox and remembers when each committed."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.committed_ns: dict[str, int] = {}
        self._n = 0
        self._versions: dict[str, int] = {}

    async def commit(self, count: int, aggregates: list[str]) -> list[str]:
        batch: list[Envelope] = []
        for _ in range(count):
            aggregate = aggregates[self._n % len(aggregates)]
            version = self._versions.get(aggregate, 0) + 1
            self._versions[aggregate] = version
            batch.append(_envelope(self._n, aggregate, version))
            self._n += 1
        async with unit_of_work(self.database) as uow:
            await add_envelopes(uow, batch)
        now = time.time_ns()
        ids = [envelope.id for envelope in batch]
        for message_id in ids:
            self.committed_ns[message_id] = now
        return ids

    async def flat_out(self, events: int, writers: int, per_transaction: int) -> None:
        """``writers`` concurrent producers, each on its own aggregates, until ``events``."""
        share = [events // writers + (1 if i < events % writers else 0) for i in range(writers)]

        async def writer(index: int, total: int) -> None:
            aggregates = [f"w{index}-{k}" for k in range(50)]
            done = 0
            while done < total:
                step = min(per_transaction, total - done)
                await self.commit(step, aggregates)
                done += step

        async with asyncio.TaskGroup() as group:
            for index, total in enumerate(share):
                group.create_task(writer(index, total))

    async def paced(self, rate: float, seconds: float) -> list[str]:
        """Commit at ``rate`` events/s for ``seconds`` (small transactions on a 5 ms tick)."""
        aggregates = [f"paced-{k}" for k in range(50)]
        ids: list[str] = []
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(rate * elapsed) - len(ids)
            if due > 0:
                ids.extend(await self.commit(due, aggregates))
            await asyncio.sleep(0.005)
        return ids


async def _applied(database: Database) -> dict[str, list[int]]:
    """message id -> downstream commit times of its effects."""
    async with database.read() as connection:
        rows = await connection.execute(select(effects.c.message_id, effects.c.applied_ns))
        found: dict[str, list[int]] = {}
        for message_id, applied_ns in rows:
            found.setdefault(message_id, []).append(int(applied_ns))
        return found


async def _applied_count(database: Database) -> int:
    async with database.read() as connection:
        counted = await connection.execute(select(func.count(func.distinct(effects.c.message_id))))
        return int(counted.scalar_one())


async def _wait_applied(database: Database, expected: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await _applied_count(database) >= expected:
            return True
        await asyncio.sleep(0.02)
    return False


async def _raw_publish_rate(broker: Broker, events: int, batch_size: int, window: int) -> float:
    """Publish ``events`` outbox-sized messages straight to the broker, ``window``
    batches in flight, as the relay's workers do; messages per second."""
    await broker.declare_queue(RAW_QUEUE, [RAW_TOPIC])
    aggregates = [f"raw-{k}" for k in range(200)]
    messages = [
        OutgoingMessage(
            message_id=str(uuid.uuid4()),
            topic=RAW_TOPIC,
            body=encode(_envelope(n, aggregates[n % len(aggregates)], n // len(aggregates) + 1)),
            ordering_key=f"bench:{aggregates[n % len(aggregates)]}",
        )
        for n in range(events)
    ]
    batches = [messages[i : i + batch_size] for i in range(0, len(messages), batch_size)]
    queue: asyncio.Queue[list[OutgoingMessage]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def worker() -> None:
        while not queue.empty():
            await broker.publish(queue.get_nowait())

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(window):
            group.create_task(worker())
    return events / (time.perf_counter() - started)


async def _relay_only_rate(
    kind: str,
    url: str,
    namespace: str,
    *,
    events: int,
    writers: int,
    per_transaction: int,
    batch_size: int,
    window: int,
    confirm_window: int,
    timeout: float,
) -> float:
    """Rows per second the relay publishes from an outbox filled beforehand, on its own
    database and namespace, into a queue nobody consumes."""
    async with _scratch_database("benchrelay", writers + window + 1) as database:
        await _create_tables(database, outbox)
        await _Producer(database).flat_out(events, writers, per_transaction)
        broker = _open_broker(kind, url, f"{namespace}_relay", confirm_window)
        async with broker:
            try:
                # Bound, so the broker stores every message as in the end-to-end run.
                await broker.declare_queue(RELAY_SINK, ["#"])
                relay = Relay(database, broker, batch_size=batch_size, window=window, listen=False)
                started = time.perf_counter()
                async with relay, asyncio.timeout(timeout):
                    while relay.published < events:
                        await asyncio.sleep(0.002)
                return events / (time.perf_counter() - started)
            finally:
                await _delete_namespace(broker)


async def _start_consumer(
    kind: str, url: str, namespace: str, downstream: Database, prefetch: int
) -> asyncio.subprocess.Process:
    command = (
        "import sys; from tidings.outbox.bench import consumer_main; consumer_main(sys.argv[1:])"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        command,
        kind,
        url,
        namespace,
        downstream.url.render_as_string(hide_password=False),
        str(prefetch),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    if line.strip() != b"ready":
        process.kill()
        raise RuntimeError(f"the bench consumer did not start: {line!r}")
    return process


async def _stop_consumer(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None:
        with contextlib.suppress(Exception):
            process.stdin.write(b"stop\n")
            await process.stdin.drain()
    try:
        await asyncio.wait_for(process.wait(), timeout=30)
    except TimeoutError:
        process.kill()
        await process.wait()


async def run_relay_bench(
    broker: str,
    *,
    events: int = 20000,
    writers: int = 4,
    per_transaction: int = 10,
    batch_size: int = 500,
    window: int = 2,
    confirm_window: int = 500,
    prefetch: int = 500,
    consumer_processes: int = 2,
    half_rate_seconds: float = 3.0,
    timeout: float = 300.0,
    log: Log = lambda _line: None,
) -> dict[str, float | int]:
    """Run the benchmark on ``broker`` (``rabbitmq``, ``nats`` or a URL); see the module docstring.

    ``consumer_processes`` competing consumers (child processes) apply the events.
    ``window`` is the relay's number of batches in flight and, likewise, the raw
    publisher's; ``confirm_window`` the broker adapter's unconfirmed publishes per
    batch. Needs PostgreSQL (``TIDINGS_ADMIN_POSTGRES_URL``) and the broker.
    """
    if events < 1 or writers < 1 or per_transaction < 1:
        raise ValueError("events, writers and per_transaction must be at least 1")
    kind, url = _kind(broker)
    namespace = f"tidings_relaybench_{uuid.uuid4().hex[:8]}"
    async with (
        _scratch_database("benchup", writers + window + 1) as upstream,
        _scratch_database("benchdown", 2) as downstream,
    ):
        await _create_tables(upstream, outbox)
        await _create_tables(downstream, inbox, dead_letters, effects)
        relay_broker = _open_broker(kind, url, namespace, confirm_window)
        async with relay_broker:
            try:
                return await _measure(
                    kind, url, namespace, upstream, downstream, relay_broker,
                    events=events, writers=writers, per_transaction=per_transaction,
                    batch_size=batch_size, window=window, confirm_window=confirm_window,
                    prefetch=prefetch, consumer_processes=consumer_processes,
                    half_rate_seconds=half_rate_seconds, timeout=timeout, log=log,
                )  # fmt: skip
            finally:
                await _delete_namespace(relay_broker)


async def _measure(
    kind: str,
    url: str,
    namespace: str,
    upstream: Database,
    downstream: Database,
    broker: Broker,
    *,
    events: int,
    writers: int,
    per_transaction: int,
    batch_size: int,
    window: int,
    confirm_window: int,
    prefetch: int,
    consumer_processes: int,
    half_rate_seconds: float,
    timeout: float,
    log: Log,
) -> dict[str, float | int]:
    log(f"raw publish: {events} messages to {kind}")
    raw_rate = await _raw_publish_rate(broker, events, batch_size, window)
    log(f"raw publish: {raw_rate:.0f}/s; the relay alone over {events} rows")
    relay_rate = await _relay_only_rate(
        kind, url, namespace, events=events, writers=writers,
        per_transaction=per_transaction, batch_size=batch_size, window=window,
        confirm_window=confirm_window, timeout=timeout,
    )  # fmt: skip
    log(f"relay alone: {relay_rate:.0f}/s; starting the consumer processes")
    consumers = [
        await _start_consumer(kind, url, namespace, downstream, prefetch)
        for _ in range(consumer_processes)
    ]
    producer = _Producer(upstream)
    try:
        relay = Relay(upstream, broker, batch_size=batch_size, window=window, poll_interval=0.05)
        async with relay:
            log(f"end to end: {events} events, {writers} writers")
            started_ns = time.time_ns()
            await producer.flat_out(events, writers, per_transaction)
            log(f"committed in {(time.time_ns() - started_ns) / 1e9:.2f}s")
            complete = await _wait_applied(downstream, events, timeout)
            applied = await _applied(downstream)
            last_ns = max((min(times) for times in applied.values()), default=time.time_ns())
            throughput = events / max((last_ns - started_ns) / 1e9, 1e-9)
            full_ids = list(producer.committed_ns)
            latencies = _latencies(producer.committed_ns, applied, full_ids)
            log(f"end to end: {throughput:.0f}/s (complete: {complete})")

            half_rate = throughput / 2
            log(f"paced at {half_rate:.0f}/s for {half_rate_seconds}s")
            half_ids = await producer.paced(half_rate, half_rate_seconds)
            await _wait_applied(downstream, len(producer.committed_ns), timeout)
            applied = await _applied(downstream)
            half_latencies = _latencies(producer.committed_ns, applied, half_ids)
    finally:
        for consumer in consumers:
            await _stop_consumer(consumer)
    committed = set(producer.committed_ns)
    lost = len(committed - set(applied))
    duplicates = sum(len(times) - 1 for times in applied.values())
    return {
        "events": events,
        "throughput": round(throughput, 1),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "raw_publish_rate": round(raw_rate, 1),
        "ratio": round(throughput / raw_rate, 3) if raw_rate else 0.0,
        "half_rate": round(half_rate, 1),
        "half_rate_events": len(half_ids),
        "p99_ms_at_half_rate": round(_percentile(half_latencies, 0.99), 2),
        "relay_rate": round(relay_rate, 1),
        "relay_ratio": round(relay_rate / raw_rate, 3) if raw_rate else 0.0,
        "lost": lost,
        "duplicate_effects": duplicates,
    }


def _latencies(
    committed_ns: dict[str, int], applied: dict[str, list[int]], ids: list[str]
) -> list[float]:
    return [
        (min(applied[message_id]) - committed_ns[message_id]) / 1e6
        for message_id in ids
        if message_id in applied
    ]


async def _delete_namespace(broker: Broker) -> None:
    delete: Any = getattr(broker, "delete_namespace", None)
    if delete is None:
        return
    with contextlib.suppress(Exception):
        if kind_of(broker) == "rabbitmq":
            await delete([RAW_QUEUE, RELAY_SINK, f"{QUEUE_SERVICE}.{CONSUMER}"])
        else:
            await delete()


def kind_of(broker: Broker) -> str:
    return "rabbitmq" if broker.url.startswith("amqp") else "nats"


# -- the consumer process ----------------------------------------------------------------


def consumer_main(argv: list[str]) -> None:
    """Entry point of the child process: ``kind url namespace downstream_url prefetch``.

    Prints ``ready`` once subscribed, consumes until a line arrives on stdin.
    """
    kind, url, namespace, downstream_url, prefetch = argv
    asyncio.run(_consume(kind, url, namespace, downstream_url, int(prefetch)))


async def _consume(kind: str, url: str, namespace: str, downstream_url: str, prefetch: int) -> None:
    from tidings.inbox.consumer import Consumer

    async def happened(uow: UnitOfWork, _event: Happened, envelope: Envelope) -> None:
        await uow.execute(
            insert(effects).values(
                id=str(uuid.uuid4()), message_id=envelope.id, applied_ns=time.time_ns()
            )
        )

    # A few connections suffice (each message is a short transaction), and the
    # server's max_connections is shared with everything else on the machine.
    database = Database(QUEUE_SERVICE, make_url(downstream_url), pool_size=CONSUMER_POOL)
    broker = _open_broker(kind, url, namespace, 500)
    try:
        async with broker:
            consumer = Consumer(CONSUMER, database, registry, service=QUEUE_SERVICE)
            consumer.on(Happened, happened)
            subscription = await consumer.start(broker, prefetch=prefetch)
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            await subscription.stop()
    finally:
        await database.close()


def summary(results: dict[str, float | int]) -> dict[str, bool]:
    """Which goals this run met (ratio, p99 at half rate, nothing lost or duplicated)."""
    return {
        "ratio": float(results["ratio"]) >= GOALS["ratio"],
        "p99_ms_at_half_rate": float(results["p99_ms_at_half_rate"]) < GOALS["p99_ms_at_half_rate"],
        "exactly_once": results["lost"] == 0 and results["duplicate_effects"] == 0,
    }


__all__ = ["GOALS", "run_relay_bench", "summary"]
