"""A consumer on a real broker and PostgreSQL applies a backlog in batches, each
message once, each aggregate in order, a poison message isolated."""

from __future__ import annotations

from pathlib import Path

import pytest
from inbox_testkit import (
    ProfileRenamed,
    effect_counts,
    message_bytes,
    migrate,
    record_effect,
    registry,
    wait_until,
)

from tidings.brokers.base import OutgoingMessage
from tidings.inbox import Consumer, Outcome, RetryPolicy, list_dead_letters
from tidings.messages import Envelope
from tidings.storage.uow import UnitOfWork
from tidings.testing.brokers import temporary_brokers

MESSAGES = 300
AGGREGATES = 10


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.mark.postgres
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("nats", marks=pytest.mark.nats),
    ],
)
async def test_a_backlog_is_applied_in_batches_once_and_in_order(
    kind: str,
    make_database,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    db = await make_database("postgres")
    await migrate(db, tmp_path)
    consumer = Consumer(
        "throughput", db, registry, retry=RetryPolicy(max_attempts=2, jitter=0), sleep=no_sleep
    )
    order: dict[str, list[int]] = {}
    # The units of work themselves, kept alive so that their ids stay distinct.
    transactions: list[UnitOfWork] = []

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        transactions.append(uow)
        if event.name == "poison":
            raise ZeroDivisionError("the handler cannot cope with this one")
        order.setdefault(event.user_id, []).append(int(event.name))
        await record_effect(uow, envelope.id, event.name)

    messages: list[OutgoingMessage] = []
    for n in range(MESSAGES):
        user = f"user-{n % AGGREGATES}"
        name = "poison" if n == MESSAGES // 2 else str(n)
        message_id, body = message_bytes(ProfileRenamed(user_id=user, name=name))
        messages.append(
            OutgoingMessage(
                message_id=message_id, topic="users.ProfileRenamed", body=body, ordering_key=user
            )
        )
    poison_id = messages[MESSAGES // 2].message_id
    # Applied before the broker delivers it: a duplicate inside some batch.
    assert await consumer.process(messages[7].body) is Outcome.APPLIED

    async with temporary_brokers(kind) as brokers, brokers() as broker:
        await broker.declare_queue(consumer.queue, consumer.topics)
        await broker.publish(messages)
        subscription = await consumer.start(broker, prefetch=100)
        try:

            async def settled() -> bool:
                return len(await effect_counts(db)) == MESSAGES - 1 and bool(
                    await list_dead_letters(db, consumer="throughput")
                )

            await wait_until(settled, timeout=60)
        finally:
            await subscription.stop()

    assert set((await effect_counts(db)).values()) == {1}
    [letter] = await list_dead_letters(db, consumer="throughput")
    assert letter.message_id == poison_id
    assert len({id(uow) for uow in transactions}) < MESSAGES
    for numbers in order.values():
        assert numbers == sorted(numbers)
