"""The subscribed consumer applies concurrent deliveries in shared transactions,
with the same outcomes as one by one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping

from inbox_testkit import (
    FakeDelivery,
    ProfileRenamed,
    effect_counts,
    message_bytes,
    record_effect,
    registry,
    wait_until,
)

from tidings.brokers.base import OutgoingMessage
from tidings.brokers.memory import MemoryBroker
from tidings.inbox import Consumer, Outcome, RetryPolicy, applied_ids, list_dead_letters
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


async def no_sleep(_seconds: float) -> None:
    return None


def consumer_recording_transactions(
    db: Database, *, name: str, batch_size: int = 100
) -> tuple[Consumer, list[UnitOfWork], list[str]]:
    """A consumer whose handler notes its unit of work (one per transaction) and names."""
    consumer = Consumer(
        name,
        db,
        registry,
        retry=RetryPolicy(max_attempts=2, jitter=0),
        sleep=no_sleep,
        batch_size=batch_size,
        concurrent_batches=1,
    )
    # The units of work themselves, kept alive so that their ids stay distinct.
    transactions: list[UnitOfWork] = []
    seen: list[str] = []

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        transactions.append(uow)
        seen.append(event.name)
        if event.name == "poison":
            raise ZeroDivisionError("the handler cannot cope with this one")
        await record_effect(uow, envelope.id, event.name)

    return consumer, transactions, seen


def deliveries(names: list[str]) -> tuple[list[str], list[FakeDelivery]]:
    pairs = [
        message_bytes(ProfileRenamed(user_id=f"u{n}", name=name)) for n, name in enumerate(names)
    ]
    return [pair[0] for pair in pairs], [FakeDelivery(pair[1]) for pair in pairs]


async def deliver_at_once(consumer: Consumer, batch: list[FakeDelivery]) -> None:
    # What the broker adapters do: each delivery's handler runs in a task of its own.
    await asyncio.gather(*(consumer._on_delivery(delivery) for delivery in batch))


async def test_concurrent_deliveries_share_a_transaction_and_each_applies_once(
    db: Database,
) -> None:
    consumer, transactions, _seen = consumer_recording_transactions(db, name="batched")
    ids, batch = deliveries([f"name-{n}" for n in range(20)])

    await deliver_at_once(consumer, batch)

    assert len(transactions) == 20
    assert len({id(uow) for uow in transactions}) < 20
    assert await effect_counts(db) == {message_id: 1 for message_id in ids}
    assert await applied_ids(db, "batched") == set(ids)
    assert all(delivery.settled == [("ack", None)] for delivery in batch)


async def test_batch_size_one_applies_each_delivery_in_its_own_transaction(db: Database) -> None:
    consumer, transactions, _seen = consumer_recording_transactions(db, name="single", batch_size=1)
    ids, batch = deliveries([f"name-{n}" for n in range(5)])

    await deliver_at_once(consumer, batch)

    assert len({id(uow) for uow in transactions}) == 5
    assert await effect_counts(db) == {message_id: 1 for message_id in ids}


async def test_a_poison_message_in_a_batch_is_dead_lettered_and_the_rest_applied_once(
    db: Database,
) -> None:
    consumer, _transactions, seen = consumer_recording_transactions(db, name="poisoned-batch")
    names = ["a", "b", "poison", "c", "d"]
    ids, batch = deliveries(names)

    await deliver_at_once(consumer, batch)

    good = {message_id for message_id, name in zip(ids, names, strict=True) if name != "poison"}
    assert await effect_counts(db) == {message_id: 1 for message_id in good}
    [letter] = await list_dead_letters(db, consumer="poisoned-batch")
    assert letter.message_id == ids[2]
    assert letter.attempts == 2
    assert all(delivery.settled == [("ack", None)] for delivery in batch)
    # The batch attempt was rolled back; the poison then had the policy's two attempts.
    assert seen.count("poison") == 3


async def test_an_applied_message_in_a_batch_is_a_duplicate_and_the_rest_apply(
    db: Database,
) -> None:
    consumer, _transactions, _seen = consumer_recording_transactions(db, name="dup-batch")
    ids, batch = deliveries(["a", "b", "c", "d"])
    assert await consumer.process(batch[1].body) is Outcome.APPLIED

    await deliver_at_once(consumer, batch)

    assert await effect_counts(db) == {message_id: 1 for message_id in ids}
    assert all(delivery.settled == [("ack", None)] for delivery in batch)


async def test_one_message_delivered_twice_at_once_has_one_effect(db: Database) -> None:
    consumer, _transactions, _seen = consumer_recording_transactions(db, name="twice")
    ids, batch = deliveries(["a", "b"])
    again = FakeDelivery(batch[0].body, attempt=2)

    await deliver_at_once(consumer, [*batch, again])

    assert await effect_counts(db) == {message_id: 1 for message_id in ids}
    assert again.settled == [("ack", None)]


async def test_through_a_broker_each_aggregate_keeps_its_order(db: Database) -> None:
    consumer = Consumer("ordered", db, registry, batch_size=50, concurrent_batches=2)
    order: dict[str, list[int]] = {}
    transactions: list[UnitOfWork] = []

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        transactions.append(uow)
        order.setdefault(event.user_id, []).append(int(event.name))
        await record_effect(uow, envelope.id, event.name)

    messages = []
    for n in range(200):
        user = f"user-{n % 7}"
        message_id, body = message_bytes(ProfileRenamed(user_id=user, name=str(n)))
        messages.append(
            OutgoingMessage(
                message_id=message_id, topic="users.ProfileRenamed", body=body, ordering_key=user
            )
        )
    broker = MemoryBroker(namespace=f"batching_{uuid.uuid4().hex[:8]}")
    async with broker:
        await broker.declare_queue(consumer.queue, consumer.topics)
        await broker.publish(messages)
        subscription = await consumer.start(broker, prefetch=64)
        try:

            async def all_applied() -> bool:
                return len(await effect_counts(db)) == 200

            await wait_until(all_applied)
        finally:
            await subscription.stop()

    assert set((await effect_counts(db)).values()) == {1}
    assert len({id(uow) for uow in transactions}) < 200
    for numbers in order.values():
        assert numbers == sorted(numbers)


async def test_a_subclass_extending_process_still_sees_every_delivery(db: Database) -> None:
    class Noting(Consumer):
        def __init__(self) -> None:
            super().__init__("noting", db, registry, concurrent_batches=1)
            self.outcomes: list[Outcome] = []

        async def process(
            self, body: bytes, headers: Mapping[str, str] | None = None, *, topic: str | None = None
        ) -> Outcome:
            outcome = await super().process(body, headers, topic=topic)
            self.outcomes.append(outcome)
            return outcome

    consumer = Noting()

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)

    ids, batch = deliveries(["a", "b", "c"])

    await deliver_at_once(consumer, [*batch, FakeDelivery(batch[0].body, attempt=2)])

    assert sorted(consumer.outcomes) == sorted([Outcome.APPLIED] * 3 + [Outcome.DUPLICATE])
    assert await effect_counts(db) == {message_id: 1 for message_id in ids}
