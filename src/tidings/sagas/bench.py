"""``tidings bench saga``: a three-step saga over three participant services.

Four PostgreSQL databases (the orchestrator and three participants, each its
own), one broker (RabbitMQ or NATS JetStream), everything in this process:
relays, inbox consumers, the saga engine. Each saga sends three commands and
takes three replies, so ``messages_per_saga`` is 6; the broker's own publish
rate, measured in the same run with the same message size and confirm window,
bounds the saga rate at ``raw_publish_rate / messages_per_saga``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, func, select

from tidings.brokers.base import Broker, OutgoingMessage, Subscription
from tidings.errors import ConfigurationError
from tidings.inbox import Consumer
from tidings.messages import Command, Envelope, Event, MessageRegistry, encode
from tidings.migrations import runner
from tidings.outbox import Relay
from tidings.sagas.definition import SagaDefinition, Step
from tidings.sagas.engine import SagaEngine
from tidings.sagas.messaging import OutboxCommandSender, reply_consumer, send_reply
from tidings.sagas.state import FINAL_STATUSES
from tidings.sagas.tables import saga_instances
from tidings.sagas.worker import DeadlineWorker
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork, unit_of_work
from tidings.system import Service
from tidings.testing.databases import create_database, drop_database, unique_name

PARTICIPANTS = ("alpha", "beta", "gamma")
MESSAGES_PER_SAGA = 2 * len(PARTICIPANTS)
# Deliveries in flight per queue. Everything runs in one process, which is
# CPU-bound here: more deliveries in flight make the relays' batches larger (fewer
# statements per message: measured 22 ms -> 14-18 ms CPU per saga going from 8 to
# 24-32), while each holds a connection for its transaction. The pool (and its
# equal overflow) covers them, so connections are not opened and closed per
# delivery, and four databases stay well under PostgreSQL's default 100 connections.
PREFETCH = 24
POOL_SIZE = 12
DEFAULT_URLS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
}

registry = MessageRegistry()


@registry.register("bench.Do")
class Do(Command):
    saga: str
    payload: str


@registry.register("bench.Done")
class Done(Event):
    saga: str


def _step(name: str, *, pivot: bool = False) -> Step:
    return Step(
        name,
        command=f"bench.{name}.Do",
        data=lambda d: {"saga": d["n"], "payload": d["payload"]},
        success=(f"bench.{name}.Done",),
        deadline=120.0,
        pivot=pivot,
    )


# One model per type name: each participant's command and reply get their own name.
for _name in PARTICIPANTS:
    registry.register(f"bench.{_name}.Do")(type(f"Do_{_name}", (Do,), {}))
    registry.register(f"bench.{_name}.Done")(type(f"Done_{_name}", (Done,), {}))

# No compensations: the first step is the pivot and the others are retried until done.
BENCH_SAGA = SagaDefinition(
    "bench.three",
    steps=tuple(_step(name, pivot=index == 0) for index, name in enumerate(PARTICIPANTS)),
)

_REVISION = textwrap.dedent(
    '''
    """bench tables"""
    from tidings.inbox import ops as inbox_ops
    from tidings.outbox.schema import create_outbox
    {saga_import}

    revision = "bench_0001"
    down_revision = None
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        create_outbox()
        inbox_ops.create_inbox()
        inbox_ops.create_dead_letters()
        {saga_call}


    def downgrade() -> None:
        pass
    '''
)


async def _migrate(database: Database, *, orchestrator: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="tidings_bench_") as folder:
        text = _REVISION.format(
            saga_import="from tidings.sagas import migrations as saga_ops" if orchestrator else "",
            saga_call="saga_ops.create_saga_tables()" if orchestrator else "",
        )
        (Path(folder) / "0001_bench.py").write_text(text)
        service = Service(database.service, MetaData(), Path(folder), library_tables=())
        await runner.upgrade(database, service)


@contextlib.asynccontextmanager
async def _databases() -> AsyncIterator[dict[str, Database]]:
    names = {service: unique_name("tidings_bench") for service in ("saga", *PARTICIPANTS)}
    opened: dict[str, Database] = {}
    try:
        for service, name in names.items():
            url = await create_database(Backend.POSTGRESQL, name)
            opened[service] = Database(service, url, pool_size=POOL_SIZE)
        yield opened
    finally:
        for database in opened.values():
            await database.close()
        for name in names.values():
            with contextlib.suppress(Exception):
                await drop_database(Backend.POSTGRESQL, name)


def _broker(kind: str, url: str | None, namespace: str) -> Broker:
    from tidings.brokers.nats import NatsBroker
    from tidings.brokers.rabbitmq import RabbitMQBroker

    if kind == "rabbitmq":
        return RabbitMQBroker(url or DEFAULT_URLS[kind], namespace=namespace)
    if kind == "nats":
        return NatsBroker(url or DEFAULT_URLS[kind], namespace=namespace)
    raise ConfigurationError(f"bench saga: broker must be rabbitmq or nats, not {kind!r}")


async def _delete_namespace(broker: Broker) -> None:
    delete = getattr(broker, "delete_namespace", None)
    if delete is not None:
        with contextlib.suppress(Exception):
            await delete()


async def measure_raw_publish(broker: Broker, *, count: int, body_size: int, batch: int) -> float:
    """Messages per second the broker confirms, published as the relay does (batches)."""
    await broker.declare_queue("raw", ["bench.raw"])
    body = b"x" * body_size
    messages = [OutgoingMessage(str(uuid.uuid4()), "bench.raw", body) for _ in range(count)]
    started = time.perf_counter()
    for index in range(0, count, batch):
        await broker.publish(messages[index : index + batch])
    return count / (time.perf_counter() - started)


def _participant(name: str, database: Database) -> Consumer:
    consumer = Consumer("commands", database, registry)
    done = registry.registration(f"bench.{name}.Done").model

    async def handle(uow: UnitOfWork, command: Any, envelope: Envelope) -> None:
        await send_reply(uow, registry, done(saga=command.saga), to=envelope)

    consumer.on(registry.registration(f"bench.{name}.Do").model, handle)
    return consumer


async def _start_sagas(engine: SagaEngine, count: int, writers: int, payload: str) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(count):
        queue.put_nowait(number)

    async def writer() -> None:
        while not queue.empty():
            number = queue.get_nowait()
            async with unit_of_work(engine.database) as uow:
                await engine.start(uow, BENCH_SAGA.name, {"n": str(number), "payload": payload})

    await asyncio.gather(*(writer() for _ in range(writers)))


async def _finished(database: Database) -> tuple[int, list[float], float | None]:
    """How many sagas are final, their durations (s), and when the last one ended."""
    table = saga_instances
    statement = select(table.c.created_at, table.c.finished_at).where(
        table.c.status.in_([status.value for status in FINAL_STATUSES])
    )
    async with database.connect() as connection:
        rows = (await connection.execute(statement)).all()
    durations = [(row.finished_at - row.created_at).total_seconds() for row in rows]
    last = max((row.finished_at.timestamp() for row in rows), default=None)
    return len(rows), durations, last


async def _count(database: Database) -> int:
    async with database.connect() as connection:
        statement = select(func.count()).select_from(saga_instances)
        return int((await connection.execute(statement)).scalar_one())


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(round(fraction * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


async def run_saga_bench(
    broker: str,
    *,
    sagas: int = 2000,
    writers: int = 8,
    broker_url: str | None = None,
    payload_bytes: int = 64,
    raw_messages: int = 10_000,
    timeout: float = 300.0,
) -> dict[str, float]:
    """Run ``sagas`` three-step sagas and return the figures the issue asks for.

    ``broker`` is ``rabbitmq`` or ``nats``; ``broker_url`` defaults to the local
    server (or ``TIDINGS_BENCH_BROKER_URL``). PostgreSQL is reached through
    ``TIDINGS_ADMIN_POSTGRES_URL`` (default: the local server as ``postgres``).
    """
    url = broker_url or os.environ.get("TIDINGS_BENCH_BROKER_URL")
    namespace = unique_name("tidings_bench")
    payload = "p" * payload_bytes
    async with _databases() as databases:
        await _migrate(databases["saga"], orchestrator=True)
        for name in PARTICIPANTS:
            await _migrate(databases[name], orchestrator=False)
        connection = _broker(broker, url, namespace)
        async with connection:
            try:
                return await _run(
                    connection, databases, sagas, writers, payload, raw_messages, timeout
                )
            finally:
                await _delete_namespace(connection)


async def _run(
    broker: Broker,
    databases: Mapping[str, Database],
    sagas: int,
    writers: int,
    payload: str,
    raw_messages: int,
    timeout: float,
) -> dict[str, float]:
    engine = SagaEngine(databases["saga"], [BENCH_SAGA], OutboxCommandSender(registry))
    # A command envelope of this run, to publish raw messages of the same size.
    sample = registry.envelope_for(Do(saga="0", payload=payload), source="saga")

    raw_rate = await measure_raw_publish(
        broker, count=raw_messages, body_size=len(encode(sample)), batch=500
    )
    subscriptions: list[Subscription] = []
    replies = reply_consumer(engine, registry)
    subscriptions.append(await replies.start(broker, prefetch=PREFETCH))
    for name in PARTICIPANTS:
        consumer = _participant(name, databases[name])
        subscriptions.append(await consumer.start(broker, prefetch=PREFETCH))
    # Every writer is in this process, so the in-process signal announces each
    # commit: no quick polling is needed (poll_interval is only the fallback).
    relays = [
        Relay(database, broker, batch_size=500, window=2, poll_interval=0.5)
        for database in databases.values()
    ]
    async with contextlib.AsyncExitStack() as stack:
        for relay in relays:
            await stack.enter_async_context(relay)
        await stack.enter_async_context(DeadlineWorker(engine, poll_interval=1.0))
        started = time.time()
        await _start_sagas(engine, sagas, writers, payload)
        deadline = time.monotonic() + timeout
        while True:
            done, durations, last = await _finished(databases["saga"])
            if done >= sagas or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        for subscription in subscriptions:
            await subscription.stop()
    total = await _count(databases["saga"])
    elapsed = (last or time.time()) - started
    sagas_per_s = done / elapsed if elapsed > 0 else 0.0
    broker_bound = raw_rate / MESSAGES_PER_SAGA
    return {
        "sagas": float(sagas),
        "sagas_per_s": round(sagas_per_s, 1),
        "p50_ms": round(1000 * statistics.median(durations), 1) if durations else float("nan"),
        "p99_ms": round(1000 * _percentile(durations, 0.99), 1),
        "messages_per_saga": float(MESSAGES_PER_SAGA),
        "raw_publish_rate": round(raw_rate, 1),
        "broker_bound": round(broker_bound, 1),
        "ratio": round(sagas_per_s / broker_bound, 3) if broker_bound else 0.0,
        "stuck": float(total - done),
    }
