"""The rig the fault tests share: an upstream database with an outbox, a relay, a
broker, and a downstream database whose consumer applies events through the inbox.

What keeps these tests from hanging or flaking (a previous suite timed out here):

* the consumer's queue is declared (``Consumer.start``) *before* anything is
  written, so no event reaches a topic exchange (or a JetStream interest stream)
  with nobody bound and gets dropped;
* relays poll every 50 ms besides listening, so a missed NOTIFY costs 50 ms,
  never a hang;
* every test has its own two databases and broker namespace, so no read waits
  behind another test's open transaction, and the history is read from the
  downstream database in short transactions;
* every wait is on a condition, with a 30 s ceiling, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from inbox_testkit import effects, migrate, record_effect

from tidings.brokers.base import Broker, Delivery
from tidings.brokers.nats import NatsBroker
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.inbox import Consumer, Outcome, RetryPolicy
from tidings.messages import Envelope, Event, MessageRegistry
from tidings.outbox import Backoff, Relay, add
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork, unit_of_work
from tidings.testing.history import History, applied_counts
from tidings.testing.outbox import install_outbox, wait_until

AMQP_URL = os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("TIDINGS_TEST_NATS_URL", "nats://127.0.0.1:4222")
NATS_SERVER = os.environ.get(
    "TIDINGS_NATS_SERVER", shutil.which("nats-server") or "/usr/sbin/nats-server"
)
RABBITMQCTL = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
TIMEOUT = 30.0
CONSUMER = "faults"
QUEUE = f"downstream.{CONSUMER}"
FAST = Backoff(initial=0.01, maximum=0.2)

registry = MessageRegistry()


@registry.register("faults.Counted")
class Counted(Event):
    n: int


@registry.register("faults.Poison")
class Poison(Event):
    """A message whose handler always fails."""

    n: int


def combination(backend: str, kind: str) -> Any:
    marks = [getattr(pytest.mark, backend), getattr(pytest.mark, kind)]
    return pytest.param((backend, kind), id=f"{backend}-{kind}", marks=marks)


COMBINATIONS = [
    combination(backend, kind)
    for backend in ("postgres", "mariadb")
    for kind in ("rabbitmq", "nats")
]
#: Each backend and each broker once, for faults whose handling the backend does not change.
DIAGONAL = [combination("postgres", "rabbitmq"), combination("mariadb", "nats")]


@dataclass
class Rig:
    upstream: Database
    downstream: Database
    kind: str
    url: str
    namespace: str
    history: History = field(default_factory=History)
    applied_order: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    outcomes: list[Outcome] = field(default_factory=list)
    brokers: list[Broker] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    _versions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _n: int = 0

    @property
    def connection_name(self) -> str:
        """The client-provided name of every RabbitMQ connection of this rig."""
        return f"tidings-faults-{self.namespace}"

    async def broker(self, **options: Any) -> Broker:
        """A new connected broker (one per process in real life) on the rig's namespace."""
        broker: Broker
        if self.kind == "rabbitmq":
            separator = "&" if "?" in self.url else "?"
            url = f"{self.url}{separator}name={self.connection_name}"
            broker = RabbitMQBroker(url, namespace=self.namespace, **options)
        else:
            # Short pull requests: after a server restart a pull loop notices sooner.
            options.setdefault("pull_expires", 1.0)
            broker = NatsBroker(self.url, namespace=self.namespace, **options)
        await broker.connect()
        self.brokers.append(broker)
        return broker

    def relay(self, broker: Broker, relay_class: type[Relay] = Relay, **options: Any) -> Relay:
        settings: dict[str, Any] = {
            "batch_size": 20,
            "window": 2,
            "poll_interval": 0.05,
            "backoff": FAST,
        }
        settings.update(options)
        return relay_class(self.upstream, broker, **settings)

    def consumer(self, *, retry: RetryPolicy | None = None) -> Consumer:
        """The downstream consumer: one effect row per applied event, in the inbox's transaction."""
        consumer = Consumer(
            CONSUMER,
            self.downstream,
            registry,
            retry=retry or RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05),
        )

        async def counted(uow: UnitOfWork, event: Counted, envelope: Envelope) -> None:
            aggregate = envelope.aggregateid or ""
            version = envelope.aggregateversion or 0
            await record_effect(uow, envelope.id, f"{aggregate}:{version}")
            uow.after_commit(lambda: self.applied_order[aggregate].append(version))

        async def poison(uow: UnitOfWork, event: Poison, envelope: Envelope) -> None:
            raise RuntimeError(f"poison {event.n} always fails")

        consumer.on(Counted, counted)
        consumer.on(Poison, poison)
        return consumer

    async def start_consumer(
        self,
        consumer: Consumer,
        broker: Broker,
        handler: Callable[[Delivery], Any] | None = None,
    ) -> Any:
        """Subscribe before anything is written (see the module docstring)."""

        async def settle(delivery: Delivery) -> None:
            self.outcomes.append(await consumer.handle_delivery(delivery))

        return await broker.subscribe(consumer.queue, consumer.topics, handler or settle)

    async def write(
        self, count: int, *, aggregates: int = 4, per_transaction: int = 5
    ) -> list[str]:
        """Commit ``count`` Counted events through the outbox; return their ids."""
        ids: list[str] = []
        for start in range(0, count, per_transaction):
            async with unit_of_work(self.upstream) as uow:
                batch = [
                    await self._add(uow, aggregates)
                    for _ in range(min(per_transaction, count - start))
                ]
                self.history.commit_with(uow, *batch)
            ids.extend(batch)
        return ids

    async def _add(self, uow: UnitOfWork, aggregates: int, message: Event | None = None) -> str:
        n = self._n
        self._n += 1
        aggregate = f"c-{n % aggregates}"
        self._versions[aggregate] += 1
        envelope = await add(
            uow,
            registry,
            message or Counted(n=n),
            aggregate_type="counter",
            aggregate_id=aggregate,
            aggregate_version=self._versions[aggregate],
        )
        return envelope.id

    @property
    def written_versions(self) -> dict[str, int]:
        """The last version written per aggregate."""
        return dict(self._versions)

    async def applied(self) -> dict[str, int]:
        return await applied_counts(self.downstream, effects.c.message_id)

    async def wait_all_applied(self) -> None:
        async def done() -> bool:
            return self.history.all_applied(await self.applied())

        await wait_until(
            done, timeout=TIMEOUT, interval=0.05, message="every committed event applied"
        )

    async def assert_exactly_once(self) -> None:
        self.history.assert_exactly_once(await self.applied())

    def assert_aggregate_order(self) -> None:
        for aggregate, versions in self.applied_order.items():
            assert versions == sorted(versions), f"{aggregate} applied out of order: {versions}"

    async def close(self) -> None:
        # Together: closing a connection waits on the server, and each is independent.
        await asyncio.gather(*(broker.close() for broker in self.brokers), return_exceptions=True)


@contextlib.asynccontextmanager
async def rig(
    make_database: Any, backend: str, kind: str, url: str | None = None
) -> AsyncIterator[Rig]:
    """Two fresh databases (outbox upstream; inbox, dead letters, effects downstream)
    and a fresh broker namespace, all removed afterwards."""
    upstream: Database = await make_database(backend, service="upstream")
    downstream: Database = await make_database(backend, service="downstream")
    with tempfile.TemporaryDirectory(prefix="tidings_faults_") as folder:
        # One after the other: Alembic's context is process-global, not concurrency-safe.
        await install_outbox(upstream)
        await migrate(downstream, Path(folder))
    namespace = f"tidings_f_{uuid.uuid4().hex[:10]}"
    the_rig = Rig(
        upstream, downstream, kind, url or (AMQP_URL if kind == "rabbitmq" else NATS_URL), namespace
    )
    try:
        yield the_rig
    finally:
        await the_rig.close()
        await _delete_namespace(the_rig)


async def _delete_namespace(the_rig: Rig) -> None:
    with contextlib.suppress(Exception):
        if the_rig.kind == "rabbitmq":
            async with RabbitMQBroker(the_rig.url, namespace=the_rig.namespace) as rabbit:
                await rabbit.delete_namespace([QUEUE])
        else:
            async with NatsBroker(
                the_rig.url, namespace=the_rig.namespace, connect_timeout=2
            ) as nats:
                await nats.delete_namespace()


# -- broker faults -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayNats:
    """A nats-server of our own (JetStream, file store in a temp dir), to kill -9 and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="tidings_nats_")
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *(NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", self.store),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await wait_until(self._answers, timeout=TIMEOUT, interval=0.05, message="nats-server up")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.returncode is not None:
            raise AssertionError(f"nats-server exited with {self.process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    async def kill(self) -> None:
        """kill -9: no clean shutdown, only what JetStream already wrote survives."""
        if self.process is not None:
            if self.process.returncode is None:
                self.process.kill()
            await asyncio.wait_for(self.process.wait(), timeout=TIMEOUT)
            self.process = None

    async def close(self) -> None:
        await self.kill()
        shutil.rmtree(self.store, ignore_errors=True)


async def close_rabbitmq_connections(name: str) -> int:
    """Force-close, server-side, every RabbitMQ connection whose client-provided name is ``name``.

    Only our own connections: the shared server keeps running for everyone else.
    """
    listing = await _run(
        RABBITMQCTL, "list_connections", "-q", "--no-table-headers", "pid", "client_properties"
    )
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if f'"{name}"' in line]
    for pid in pids:
        await _run(RABBITMQCTL, "close_connection", pid, "fault test: broker connection lost")
    return len(pids)


async def _run(*command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=TIMEOUT)
    if process.returncode != 0:
        raise AssertionError(f"{command[:2]} failed: {err.decode()}")
    return out.decode()
