"""What a NOTIFY in the outbox insert transaction costs on PostgreSQL.

A transaction that sends NOTIFY takes a global lock at commit, so every writer
pays for it. This measures commits per second of outbox inserts:

* raw asyncpg, one row per transaction, with and without ``pg_notify`` in it;
* through ``tidings.outbox.add`` with NOTIFY in every transaction, never, and
  throttled (the default: at most one per ``NOTIFY_INTERVAL`` per process);

from 1 and 8 concurrent writers, with a relay-like LISTEN connection open (pass
``--no-listener`` for nobody listening), and prints each rate with its ratio to
the no-NOTIFY rate of the same writer count. Needs PostgreSQL on 127.0.0.1:5432.

    .venv/bin/python bench/relay_notify_cost.py [--seconds 1] [--rounds 5] [--no-listener]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from tidings.messages import Event, MessageRegistry
from tidings.outbox import add
from tidings.outbox import notify as outbox_notify
from tidings.outbox.table import NOTIFY_CHANNEL
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.testing.databases import temporary_database
from tidings.testing.outbox import install_outbox

registry = MessageRegistry()


@registry.register("bench.Happened")
class Happened(Event):
    n: int
    note: str


INSERT = (
    "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, headers, "
    "created_at) VALUES ($1, 'bench', $2, 'bench.Happened', $3, 'bench.Happened', '{}', now())"
)
PAYLOAD = json.dumps({"specversion": "1.0", "data": {"note": "x" * 200}})


async def run_writers(
    writers: int, seconds: float, commit: Callable[[int], Awaitable[None]]
) -> float:
    """Commits per second of ``writers`` tasks each calling ``commit`` in a loop."""
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    async def writer(index: int) -> None:
        while time.perf_counter() < deadline:
            await commit(index)
            counts[index] += 1

    started = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(writers)))
    return sum(counts) / (time.perf_counter() - started)


async def raw_rate(dsn: str, writers: int, seconds: float, *, notify: bool) -> float:
    connections = [await asyncpg.connect(dsn) for _ in range(writers)]
    try:

        async def commit(index: int) -> None:
            connection = connections[index]
            async with connection.transaction():
                await connection.execute(INSERT, str(uuid.uuid4()), f"a{index}", PAYLOAD)
                if notify:
                    await connection.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)

        return await run_writers(writers, seconds, commit)
    finally:
        for connection in connections:
            await connection.close()


async def tidings_rate(database: Database, writers: int, seconds: float, interval: float) -> float:
    outbox_notify.NOTIFY_INTERVAL = interval
    outbox_notify._last_notify.clear()

    async def commit(index: int) -> None:
        async with unit_of_work(database) as uow:
            await add(
                uow,
                registry,
                Happened(n=index, note="x" * 200),
                aggregate_type="bench",
                aggregate_id=f"a{index}",
            )

    return await run_writers(writers, seconds, commit)


async def main(seconds: float, rounds: int, listen: bool) -> dict[str, Any]:
    results: dict[str, Any] = {"seconds_per_case": seconds, "rounds": rounds, "listener": listen}
    async with temporary_database(Backend.POSTGRESQL, "bench") as database:
        await install_outbox(database)
        dsn = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = await asyncpg.connect(dsn) if listen else None
        if listener is not None:
            await listener.add_listener(NOTIFY_CHANNEL, lambda *_args: None)
        cases: dict[str, Callable[[int], Awaitable[float]]] = {
            "raw": lambda w: raw_rate(dsn, w, seconds, notify=False),
            "raw_notify": lambda w: raw_rate(dsn, w, seconds, notify=True),
            "add_never": lambda w: tidings_rate(database, w, seconds, float("inf")),
            "add_every": lambda w: tidings_rate(database, w, seconds, 0.0),
            "add_throttled": lambda w: tidings_rate(
                database, w, seconds, outbox_notify.NOTIFY_INTERVAL_DEFAULT
            ),
        }
        try:
            for writers in (1, 8):
                # Cases alternate round by round, so a load change on the machine
                # hits them all alike; each rate is the median of its rounds.
                samples: dict[str, list[float]] = {name: [] for name in cases}
                for _ in range(rounds):
                    for name, measure in cases.items():
                        samples[name].append(await measure(writers))
                rate = {name: statistics.median(values) for name, values in samples.items()}
                results[f"writers_{writers}"] = {
                    "raw_commits_per_s": round(rate["raw"]),
                    "raw_notify_commits_per_s": round(rate["raw_notify"]),
                    "raw_notify_ratio": round(rate["raw_notify"] / rate["raw"], 3),
                    "add_no_notify_commits_per_s": round(rate["add_never"]),
                    "add_notify_every_commit_per_s": round(rate["add_every"]),
                    "add_notify_every_ratio": round(rate["add_every"] / rate["add_never"], 3),
                    "add_throttled_commits_per_s": round(rate["add_throttled"]),
                    "add_throttled_ratio": round(rate["add_throttled"] / rate["add_never"], 3),
                }
        finally:
            if listener is not None:
                await listener.close()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="duration of each case")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per case (median)")
    parser.add_argument("--no-listener", action="store_true", help="nobody LISTENs")
    arguments = parser.parse_args()
    print(
        json.dumps(
            asyncio.run(main(arguments.seconds, arguments.rounds, not arguments.no_listener)),
            indent=2,
        )
    )
