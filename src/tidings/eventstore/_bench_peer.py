"""The peer side of the event store benchmark: the ``eventsourcing`` library on the
same PostgreSQL server. Imported only by the benchmark (``eventsourcing`` is a
benchmark dependency, not a library one)."""

from __future__ import annotations

import threading
import time
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class PeerCart(Aggregate):
    @event("Created")
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.items: list[str] = []

    @event("ItemAdded")
    def add(self, item: str) -> None:
        self.items.append(item)


def peer_application(dbname: str, host: str, port: int, user: str, password: str) -> Any:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password,
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "10",
    }
    return Application(env=env)


def peer_saves(app: Any, writers: int, seconds: float) -> tuple[int, float]:
    """Aggregate saves (each a new aggregate with two events) from ``writers`` threads
    for about ``seconds``: how many, and the time they took."""
    counts = [0] * writers
    stop = time.perf_counter() + seconds

    def write(index: int) -> None:
        while time.perf_counter() < stop:
            cart = PeerCart(owner="ada")
            cart.add("book")
            app.save(cart)
            counts[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), time.perf_counter() - started


def peer_big_aggregate(app: Any, events: int) -> Any:
    """Store one aggregate of ``events`` events; return its id."""
    cart = PeerCart(owner="ada")
    for n in range(events - 1):
        cart.add(f"item-{n}")
        if n % 1000 == 999:
            app.save(cart)
    app.save(cart)
    return cart.id


def peer_load(app: Any, aggregate_id: Any, events: int) -> float:
    """Seconds to load the aggregate once."""
    started = time.perf_counter()
    loaded = app.repository.get(aggregate_id)
    elapsed = time.perf_counter() - started
    assert len(loaded.items) == events - 1
    return elapsed
