"""Aggregates, the repository, snapshots, chained upcasters and time travel, on the memory store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from tidings.errors import ConcurrencyError, NotFound, UnknownMessageType
from tidings.eventstore.aggregate import Aggregate, DomainEvent, Repository
from tidings.eventstore.base import NewEvent
from tidings.eventstore.diagnostics import held_back_by
from tidings.eventstore.memory import MemoryEventStore
from tidings.eventstore.snapshots import MemorySnapshotStore, Snapshot
from tidings.eventstore.timetravel import history, load_as_of, replay_all_from, replay_from
from tidings.eventstore.upcasting import Upcasters
from tidings.storage.types import utcnow


class Opened(DomainEvent):
    owner: str


class Deposited(DomainEvent):
    schema_version: ClassVar[int] = 3
    amount_cents: int
    note: str


class Account(Aggregate):
    event_types: ClassVar[tuple[type[DomainEvent], ...]] = (Opened, Deposited)
    snapshot_schema_version: ClassVar[int] = 2

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.owner = ""
        self.balance = 0

    def apply(self, event: DomainEvent) -> None:
        match event:
            case Opened(owner=owner):
                self.owner = owner
            case Deposited(amount_cents=amount):
                self.balance += amount

    def snapshot(self) -> dict[str, Any]:
        return {"owner": self.owner, "balance_cents": self.balance}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.owner = state["owner"]
        self.balance = state["balance_cents"]


def deposit_upcasters() -> Upcasters:
    upcasters = Upcasters()
    upcasters.add("Deposited", 1, lambda d: {"amount_cents": d["amount"] * 100})
    upcasters.add("Deposited", 2, lambda d: {**d, "note": ""})
    return upcasters


def opened(account_id: str, deposits: int = 0) -> Account:
    account = Account(account_id)
    account.record(Opened(owner="ada"))
    for _ in range(deposits):
        account.record(Deposited(amount_cents=100, note="n"))
    return account


async def test_save_then_load_rebuilds_the_state() -> None:
    repository = Repository(MemoryEventStore(), Account)
    account = opened("a1", deposits=2)
    result = await repository.save(account)
    assert result is not None
    assert result.stream_version == 3
    assert account.version == 3
    assert account.pending == ()
    loaded = await repository.load("a1")
    assert (loaded.owner, loaded.balance, loaded.version) == ("ada", 200, 3)
    assert await repository.save(loaded) is None  # nothing recorded, nothing written


async def test_a_missing_aggregate() -> None:
    repository = Repository(MemoryEventStore(), Account)
    assert await repository.get("nobody") is None
    with pytest.raises(NotFound):
        await repository.load("nobody")


async def test_a_stale_aggregate_is_refused_and_left_unchanged() -> None:
    repository = Repository(MemoryEventStore(), Account)
    await repository.save(opened("a1"))
    first, second = await repository.load("a1"), await repository.load("a1")
    first.record(Deposited(amount_cents=1, note=""))
    second.record(Deposited(amount_cents=2, note=""))
    await repository.save(first)
    with pytest.raises(ConcurrencyError) as raised:
        await repository.save(second)
    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert second.version == 1
    assert len(second.pending) == 1
    assert (await repository.load("a1")).balance == 1


async def test_events_are_upcast_through_the_chain() -> None:
    store = MemoryEventStore()
    repository = Repository(store, Account, upcasters=deposit_upcasters())
    stream = repository.stream_id("a1")
    await store.append(
        stream,
        [
            NewEvent("Opened", {"owner": "ada"}),
            NewEvent("Deposited", {"amount": 5}, schema_version=1),
            NewEvent("Deposited", {"amount_cents": 7}, schema_version=2),
            NewEvent("Deposited", {"amount_cents": 9, "note": "x"}, schema_version=3),
        ],
        expected_version=0,
    )
    assert (await repository.load("a1")).balance == 516


async def test_a_missing_upcaster_is_an_error() -> None:
    store = MemoryEventStore()
    repository = Repository(store, Account)
    await store.append(
        repository.stream_id("a1"),
        [NewEvent("Deposited", {"amount": 5}, schema_version=1)],
        expected_version=0,
    )
    with pytest.raises(UnknownMessageType, match="upcaster is missing"):
        await repository.load("a1")


async def test_an_unknown_event_type_is_an_error() -> None:
    store = MemoryEventStore()
    repository = Repository(store, Account)
    await store.append(repository.stream_id("a1"), [NewEvent("Closed", {})], expected_version=0)
    with pytest.raises(UnknownMessageType, match="Closed"):
        await repository.load("a1")


def test_an_upcaster_registered_twice_is_refused() -> None:
    upcasters = deposit_upcasters()
    with pytest.raises(ValueError, match="already"):
        upcasters.add("Deposited", 1, lambda d: d)


async def test_snapshots_every_n_events_per_aggregate_type() -> None:
    snapshots = MemorySnapshotStore()
    repository = Repository(MemoryEventStore(), Account, snapshots=snapshots, snapshot_every=3)
    account = opened("a1", deposits=1)  # versions 1-2: no snapshot yet
    await repository.save(account)
    assert await snapshots.latest(repository.stream_id("a1")) is None
    account.record(Deposited(amount_cents=100, note=""))
    account.record(Deposited(amount_cents=100, note=""))  # crosses 3 at version 4
    await repository.save(account)
    latest = await snapshots.latest(repository.stream_id("a1"))
    assert latest is not None
    assert latest.stream_version == 4
    assert latest.state == {"owner": "ada", "balance_cents": 300}


async def test_load_starts_from_the_snapshot() -> None:
    store, snapshots = MemoryEventStore(), MemorySnapshotStore()
    repository = Repository(store, Account, snapshots=snapshots, snapshot_every=100)
    await repository.save(opened("a1", deposits=3))
    # A snapshot whose state differs from the events shows that load used it.
    await snapshots.save(
        Snapshot(
            repository.stream_id("a1"),
            2,
            "Account",
            2,
            {"owner": "bo", "balance_cents": 0},
            utcnow(),
        )
    )
    loaded = await repository.load("a1")
    assert (loaded.owner, loaded.balance, loaded.version) == ("bo", 200, 4)


async def test_snapshots_are_upcast_through_the_chain() -> None:
    snapshot_upcasters = Upcasters()
    snapshot_upcasters.add(
        "Account", 0, lambda s: {"owner": s["name"], "balance": s["euros"] * 100}
    )
    snapshot_upcasters.add(
        "Account", 1, lambda s: {"owner": s["owner"], "balance_cents": s["balance"]}
    )
    store, snapshots = MemoryEventStore(), MemorySnapshotStore()
    repository = Repository(
        store,
        Account,
        snapshots=snapshots,
        snapshot_every=100,
        snapshot_upcasters=snapshot_upcasters,
    )
    await repository.save(opened("a1", deposits=1))
    await snapshots.save(
        Snapshot(repository.stream_id("a1"), 1, "Account", 0, {"name": "cy", "euros": 3}, utcnow())
    )
    loaded = await repository.load("a1")
    assert (loaded.owner, loaded.balance) == ("cy", 400)


async def test_load_as_of_a_position_or_time_ignores_newer_snapshots() -> None:
    store, snapshots = MemoryEventStore(), MemorySnapshotStore()
    repository = Repository(store, Account, snapshots=snapshots, snapshot_every=2)
    account = opened("a1")
    first = await repository.save(account)
    assert first is not None
    account.record(Deposited(amount_cents=5, note=""))
    account.record(Deposited(amount_cents=6, note=""))
    await repository.save(account)
    assert (await snapshots.latest(repository.stream_id("a1"))) is not None
    then = await repository.load("a1", to_position=first.last_position)
    assert (then.balance, then.version) == (0, 1)
    recorded = await store.read_stream(repository.stream_id("a1"))
    at_time = await repository.load("a1", to_time=recorded[0].recorded_at)
    assert at_time.version == 1  # recorded_at ties: the first save's event only
    with pytest.raises(NotFound):
        await repository.load("a1", to_time=recorded[0].recorded_at - timedelta(seconds=1))


async def test_load_as_of_needs_a_bound() -> None:
    with pytest.raises(ValueError, match="position or a time"):
        await load_as_of(Repository(MemoryEventStore(), Account), "a1")


async def test_load_as_of_a_position() -> None:
    repository = Repository(MemoryEventStore(), Account)
    account = opened("a1", deposits=1)
    first = await repository.save(account)
    assert first is not None
    account.record(Deposited(amount_cents=50, note=""))
    await repository.save(account)
    then = await load_as_of(repository, "a1", position=first.last_position)
    assert then.balance == 100
    assert (await repository.load("a1")).balance == 150


async def test_replay_from_a_date_and_history() -> None:
    store = MemoryEventStore()
    await store.append(
        "s", [NewEvent("A", {"n": 1}, metadata={"actor": "ada"})], expected_version=0
    )
    await store.append("other", [NewEvent("B", {})], expected_version=0)
    await store.append("s", [NewEvent("C", {"n": 2})], expected_version=1)
    events = await store.read_stream("s")
    since = events[1].recorded_at
    assert [e.type for e in await replay_from(store, "s", since)] == ["C"]
    assert [e.type for e in await replay_from(store, "s", since - timedelta(days=1))] == ["A", "C"]
    everything = [e.type async for e in replay_all_from(store, since - timedelta(days=1), batch=1)]
    assert everything == ["A", "B", "C"]
    entries = await history(store, "s")
    assert [(h.version, h.type, h.actor) for h in entries] == [(1, "A", "ada"), (2, "C", None)]
    assert entries[0].data == {"n": 1}


async def test_a_memory_store_is_never_held_back() -> None:
    store = MemoryEventStore()
    await store.append("s", [NewEvent("A", {})], expected_version=0)
    report = await held_back_by(store)
    assert report.head_position == 1
    assert not report.is_held_back
