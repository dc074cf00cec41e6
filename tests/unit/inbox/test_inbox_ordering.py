"""Per-aggregate order in the inbox: an event is applied only after its predecessor."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from inbox_testkit import (
    BEFORE_POSITIONS,
    FakeDelivery,
    ProfileRenamed,
    effect_counts,
    migrate,
    record_effect,
    registry,
    wait_until,
)
from prometheus_client import REGISTRY
from sqlalchemy import select

from tidings.brokers.base import OutgoingMessage
from tidings.brokers.memory import MemoryBroker
from tidings.inbox import Consumer, Outcome, Reason, RetryPolicy, last_versions, list_dead_letters
from tidings.inbox.consumer import HOLD_DELAY_MAX, hold_delay
from tidings.inbox.ordering import keeps_positions
from tidings.inbox.tables import inbox_positions
from tidings.messages import Envelope, encode
from tidings.migrations import runner
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ordered_consumer(
    db: Database, applied: list[tuple[str, int | None]], *, clock: Clock | None = None
) -> Consumer:
    consumer = Consumer(
        "ordered",
        db,
        registry,
        retry=RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0),
        order_gap_timeout=30.0,
        clock=clock or Clock(),
    )

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)
        applied.append((event.user_id, envelope.aggregateversion))

    return consumer


def event(
    user: str, version: int | None, *, name: str = "x", kind: str | None = "user"
) -> tuple[str, bytes]:
    envelope = registry.envelope_for(
        ProfileRenamed(user_id=user, name=name),
        source="users",
        aggregate_type=kind,
        aggregate_id=user,
        aggregate_version=version,
    )
    return envelope.id, encode(envelope)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_event_ahead_of_its_predecessor_waits_for_it(db: Database) -> None:
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(db, applied)
    _, first = event("u1", 1)
    _, second = event("u1", 2)
    _, third = event("u1", 3)

    early = FakeDelivery(third, attempt=1)
    assert await consumer.handle_delivery(early) is Outcome.HELD
    assert early.settled == [("nack", hold_delay(1))]
    assert await consumer.process(second) is Outcome.HELD
    assert await consumer.process(first) is Outcome.APPLIED
    assert await consumer.process(third) is Outcome.HELD
    assert await consumer.process(second) is Outcome.APPLIED
    assert await consumer.process(third) is Outcome.APPLIED

    assert applied == [("u1", 1), ("u1", 2), ("u1", 3)]
    assert await last_versions(db, "ordered") == {("user", "u1"): 3}


async def test_aggregates_are_ordered_independently(db: Database) -> None:
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(db, applied)
    assert await consumer.process(event("u1", 1)[1]) is Outcome.APPLIED
    assert await consumer.process(event("u2", 1)[1]) is Outcome.APPLIED
    assert await consumer.process(event("u2", 2)[1]) is Outcome.APPLIED
    # Same id under another aggregate type is another aggregate.
    assert await consumer.process(event("u1", 2, kind="admin")[1]) is Outcome.HELD
    assert await consumer.process(event("u1", 2)[1]) is Outcome.APPLIED
    assert await last_versions(db, "ordered") == {("user", "u1"): 2, ("user", "u2"): 2}


async def test_events_of_one_version_are_all_applied(db: Database) -> None:
    """A transaction that emits two events gives both the aggregate's new version."""
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(db, applied)
    for version in (1, 2, 2, 3):
        assert await consumer.process(event("u1", version)[1]) is Outcome.APPLIED
    assert [version for _, version in applied] == [1, 2, 2, 3]


async def test_a_duplicate_is_still_a_duplicate_not_a_late_event(db: Database) -> None:
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(db, applied)
    first_id, first = event("u1", 1)
    second_id, second = event("u1", 2)
    assert await consumer.process(first) is Outcome.APPLIED
    assert await consumer.process(second) is Outcome.APPLIED
    assert await consumer.process(first) is Outcome.DUPLICATE
    assert await effect_counts(db) == {first_id: 1, second_id: 1}
    assert await list_dead_letters(db) == []


async def test_a_gap_past_the_bound_is_applied_and_counted(db: Database) -> None:
    """A consumer that starts mid-stream never sees version 1: after the bound it
    goes on from where it started."""
    clock = Clock()
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(db, applied, clock=clock)
    gaps = sample("tidings_order_gaps_total", consumer="ordered")
    held = sample("tidings_messages_held_back_total", consumer="ordered")
    _, fifth = event("u1", 5)

    assert await consumer.process(fifth) is Outcome.HELD
    clock.now += 29.0
    assert await consumer.process(fifth) is Outcome.HELD
    clock.now += 1.0
    assert await consumer.process(fifth) is Outcome.APPLIED
    assert await consumer.process(event("u1", 6)[1]) is Outcome.APPLIED

    assert applied == [("u1", 5), ("u1", 6)]
    assert sample("tidings_order_gaps_total", consumer="ordered") == gaps + 1
    assert sample("tidings_messages_held_back_total", consumer="ordered") == held + 2


async def test_an_event_later_than_its_successors_is_dead_lettered_not_applied(
    db: Database,
) -> None:
    clock = Clock()
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(db, applied, clock=clock)
    _, third = event("u1", 3)
    assert await consumer.process(third) is Outcome.HELD
    clock.now += 31.0
    assert await consumer.process(third) is Outcome.APPLIED

    late_id, late = event("u1", 2)
    assert await consumer.process(late, {"h": "1"}, topic="users.ProfileRenamed") is (
        Outcome.DEAD_LETTERED
    )
    assert applied == [("u1", 3)]
    [letter] = await list_dead_letters(db)
    assert letter.reason == Reason.OUT_OF_ORDER
    assert letter.message_id == late_id
    assert "version 2 of user u1" in letter.error
    assert "version 3 applied" in letter.error
    assert letter.body == late
    assert letter.topic == "users.ProfileRenamed"


async def test_events_without_a_version_are_not_ordered(db: Database) -> None:
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(db, applied)
    assert await consumer.process(event("u1", None)[1]) is Outcome.APPLIED
    assert await consumer.process(event("u1", 7)[1]) is Outcome.HELD
    assert await consumer.process(event("u1", None)[1]) is Outcome.APPLIED
    assert len(applied) == 2


async def test_keep_order_off_applies_in_arrival_order(db: Database) -> None:
    applied: list[tuple[str, int | None]] = []
    consumer = Consumer("unordered", db, registry, keep_order=False)

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        applied.append((event.user_id, envelope.aggregateversion))

    assert await consumer.process(event("u1", 2)[1]) is Outcome.APPLIED
    assert await consumer.process(event("u1", 1)[1]) is Outcome.APPLIED
    assert applied == [("u1", 2), ("u1", 1)]


async def test_a_failed_effect_does_not_move_the_position(db: Database) -> None:
    consumer = Consumer(
        "flaky", db, registry, retry=RetryPolicy(max_attempts=1, initial_delay=0.0, jitter=0)
    )
    failures = [RuntimeError("once")]

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)
        if failures:
            raise failures.pop()

    _, first = event("u1", 1)
    assert await consumer.process(first) is Outcome.DEAD_LETTERED
    assert await last_versions(db, "flaky") == {}
    # Its successor waits: the dead letter is the predecessor, replayable.
    assert await consumer.process(event("u1", 2)[1]) is Outcome.HELD


def test_the_hold_delay_starts_short_and_is_bounded() -> None:
    delays = [hold_delay(attempt) for attempt in range(1, 30)]
    assert delays[0] == 0.05
    assert delays == sorted(delays)
    assert max(delays) == HOLD_DELAY_MAX


async def test_a_database_migrated_before_positions_upgrades_and_then_keeps_order(
    make_database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An existing service's history gains one revision; until it runs the consumer
    applies in arrival order and says why."""
    database: Database = await make_database("sqlite")
    service = await migrate(database, tmp_path, BEFORE_POSITIONS)
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(database, applied)
    with caplog.at_level(logging.WARNING, logger="tidings.inbox"):
        assert await consumer.process(event("u1", 2)[1]) is Outcome.APPLIED
    assert "create_inbox_positions" in caplog.text

    await runner.upgrade(database, service)
    async with database.read() as connection:
        assert (await connection.execute(select(inbox_positions))).all() == []
    upgraded = ordered_consumer(database, applied)
    assert await upgraded.process(event("u2", 2)[1]) is Outcome.HELD
    assert await upgraded.process(event("u2", 1)[1]) is Outcome.APPLIED

    await runner.downgrade(database, service, BEFORE_POSITIONS)
    assert not await keeps_positions(database)


async def test_deliveries_arriving_newest_first_are_applied_oldest_first(db: Database) -> None:
    """Through a broker, in batches: the held ones come again until their turn."""
    applied: list[tuple[str, int | None]] = []
    consumer = ordered_consumer(db, applied)
    events = [event(user, version) for version in (1, 2, 3, 4) for user in ("u1", "u2")]
    async with MemoryBroker() as broker:
        await consumer.start(broker)
        # No ordering key and newest first: the worst a queue could hand out.
        await broker.publish(
            [
                OutgoingMessage(message_id=message_id, topic="users.ProfileRenamed", body=body)
                for message_id, body in reversed(events)
            ]
        )
        await wait_until(lambda: _count(db, len(events)), timeout=30.0)
    for user in ("u1", "u2"):
        assert [version for who, version in applied if who == user] == [1, 2, 3, 4]
    assert await effect_counts(db) == {message_id: 1 for message_id, _ in events}


async def _count(db: Database, wanted: int) -> bool:
    return len(await effect_counts(db)) >= wanted
