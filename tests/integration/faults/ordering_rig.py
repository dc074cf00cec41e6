"""Per-aggregate order under crashes and competing consumers: consumer *processes*
SIGKILLed at random while they apply a stream of events.

The parent (the test) owns the upstream database, the relay and the killing; each
consumer is a separate Python process (:mod:`ordering_consumer`) on the same queue
of the same service, so they compete for deliveries. The handler proves order
itself: in the effect's transaction it reads the aggregate's row in ``tallies``
(the version applied last), records it with the effect and moves it on. An effect
that found anything but its predecessor there was applied out of order
(:func:`tidings.testing.history.order_violations`), whichever process applied it.

Kills are placed by progress, not by time: each happens once the downstream has
applied a randomly chosen number of events, so every kill lands while deliveries
are in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faults_rig import Counted, Rig, registry
from inbox_testkit import effects
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update

from tidings.inbox import Consumer, RetryPolicy, list_dead_letters
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork
from tidings.testing.history import assert_in_order
from tidings.testing.outbox import wait_until

WORKER = Path(__file__).with_name("ordering_consumer.py")

tallies_metadata = MetaData()
tallies = Table(
    "tallies",
    tallies_metadata,
    Column("aggregate", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
)


def ordered_consumer(database: Database, *, keep_order: bool = True) -> Consumer:
    """The consumer every process runs: one effect per event, with the version it found.

    ``keep_order=False`` is the consumer without the inbox's ordering, to measure
    what the ordering prevents."""
    consumer = Consumer(
        "faults",
        database,
        registry,
        retry=RetryPolicy(max_attempts=5, initial_delay=0.01, max_delay=0.2),
        keep_order=keep_order,
    )

    async def counted(uow: UnitOfWork, event: Counted, envelope: Envelope) -> None:
        aggregate = envelope.aggregateid or ""
        version = envelope.aggregateversion or 0
        found = (
            await uow.execute(select(tallies.c.version).where(tallies.c.aggregate == aggregate))
        ).scalar()
        if found is None:
            await uow.execute(insert(tallies).values(aggregate=aggregate, version=version))
        else:
            await uow.execute(
                update(tallies).where(tallies.c.aggregate == aggregate).values(version=version)
            )
        await uow.execute(
            insert(effects).values(
                # A fresh id per effect: a second effect of one message shows as a second row.
                id=str(uuid.uuid4()),
                message_id=envelope.id,
                value=f"{aggregate}:{version}:{found or 0}",
            )
        )

    consumer.on(Counted, counted)
    return consumer


@dataclass
class Workers:
    """The consumer processes of one run: start, SIGKILL, replace."""

    config: dict[str, Any]
    logs: Path
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    kills: int = 0
    started: int = 0

    async def start(self) -> asyncio.subprocess.Process:
        self.started += 1
        with (self.logs / f"consumer-{self.started}.log").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                json.dumps(self.config),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env={**os.environ, "PYTHONPATH": _python_path()},
            )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60.0)
        if line.strip() != b"ready":
            raise AssertionError(f"consumer process did not start: {line!r}")
        self.processes.append(process)
        return process

    async def kill_one(self, rng: random.Random) -> None:
        """SIGKILL a random consumer process (no goodbye to broker or database), then
        start its replacement."""
        victim = rng.choice(self.processes)
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        self.processes.remove(victim)
        self.kills += 1
        await self.start()

    def log_tails(self, lines: int = 15) -> str:
        """The last lines each consumer process logged, for a failure's message."""
        tails = []
        for path in sorted(self.logs.glob("consumer-*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(tails)

    async def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
        for process in self.processes:
            await process.wait()
        self.processes.clear()


def _python_path() -> str:
    here = Path(__file__).parent
    paths = [str(here), str(here.parents[1]), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(path for path in paths if path)


@dataclass(frozen=True)
class RunReport:
    events: int
    kills: int
    seconds: float


async def run_with_kills(
    the_rig: Rig,
    *,
    events: int,
    aggregates: int,
    kills: int,
    consumers: int = 2,
    seed: int | None = None,
    timeout: float = 120.0,
    broker_options: dict[str, Any] | None = None,
    prefetch: int = 64,
    keep_order: bool = True,
    logs: Path,
) -> RunReport:
    """Write ``events`` on ``aggregates`` while ``consumers`` competing processes apply
    them and ``kills`` of them are SIGKILLed; then check exactly-once and order."""
    options = dict(broker_options or {})
    rng = random.Random(seed)
    async with the_rig.downstream.transaction() as connection:
        await connection.run_sync(tallies_metadata.create_all)
    # The queue exists before anything is written (see faults_rig).
    declarer = await the_rig.broker(**options)
    template = ordered_consumer(the_rig.downstream)
    await declarer.declare_queue(template.queue, template.topics)
    workers = Workers(
        {
            "database_url": the_rig.downstream.url.render_as_string(hide_password=False),
            "kind": the_rig.kind,
            "broker_url": the_rig.url,
            "namespace": the_rig.namespace,
            "broker_options": options,
            "prefetch": prefetch,
            "keep_order": keep_order,
        },
        logs,
    )
    started = time.monotonic()
    try:
        for _ in range(consumers):
            await workers.start()
        # Kill points spread over the first 80% of the stream, never twice at one count.
        marks = sorted(rng.sample(range(events // 10, events * 8 // 10), kills))
        async with the_rig.relay(await the_rig.broker(**options), batch_size=50):
            writing = asyncio.ensure_future(
                the_rig.write(events, aggregates=aggregates, per_transaction=10)
            )
            for mark in marks:
                await _wait_applied(the_rig, mark, timeout)
                await workers.kill_one(rng)
            await writing
            await _wait_applied(the_rig, events, timeout)
        seconds = time.monotonic() - started
    except AssertionError as failure:
        lagging = await _lagging(the_rig)
        raise AssertionError(f"{failure}; behind: {lagging}\n{workers.log_tails()}") from failure
    finally:
        await workers.stop()
    await the_rig.assert_exactly_once()
    assert_in_order(await applied_chain(the_rig.downstream))
    letters = await list_dead_letters(the_rig.downstream)
    assert letters == [], [f"{letter.reason}: {letter.error[:200]}" for letter in letters]
    assert workers.kills == kills
    return RunReport(events, workers.kills, seconds)


async def _lagging(the_rig: Rig) -> dict[str, str]:
    """Aggregates whose applied version is behind the last one written."""
    async with the_rig.downstream.read() as connection:
        rows = (await connection.execute(select(tallies.c.aggregate, tallies.c.version))).all()
    found = {str(aggregate): int(version) for aggregate, version in rows}
    written = the_rig.written_versions
    return {
        aggregate: f"{found.get(aggregate, 0)}/{version}"
        for aggregate, version in sorted(written.items())
        if found.get(aggregate, 0) < version
    }


async def _applied(database: Database) -> int:
    async with database.read() as connection:
        return int((await connection.execute(select(func.count()).select_from(effects))).scalar())


async def _wait_applied(the_rig: Rig, count: int, timeout: float) -> None:
    async def reached() -> bool:
        return await _applied(the_rig.downstream) >= count

    await wait_until(reached, timeout=timeout, interval=0.05, message=f"{count} events applied")


async def applied_chain(database: Database) -> list[tuple[str, int, int]]:
    """``(aggregate, version, version found applied before it)`` of every effect."""
    async with database.read() as connection:
        values = (await connection.execute(select(effects.c.value))).scalars().all()
    chain = []
    for value in values:
        aggregate, version, found = value.rsplit(":", 2)
        chain.append((aggregate, int(version), int(found)))
    return chain
