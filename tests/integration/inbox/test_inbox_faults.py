"""Consumers under faults, end to end through a broker: every message applied once."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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

from tidings.brokers.base import Broker, Delivery, OutgoingMessage
from tidings.brokers.memory import MemoryBroker
from tidings.brokers.nats import NatsBroker
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.inbox import Consumer, Outcome, RetryPolicy, list_dead_letters, replay
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork

TOPIC = "users.ProfileRenamed"


AMQP_URL = os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("TIDINGS_TEST_NATS_URL", "nats://127.0.0.1:4222")

# (database backend, broker): the embedded pair, and each server broker on each
# server database (the backends' own races are in test_inbox_backends).
SETUPS = [
    pytest.param(("sqlite", "memory"), id="sqlite-memory"),
    pytest.param(
        ("postgres", "rabbitmq"),
        id="postgres-rabbitmq",
        marks=[pytest.mark.postgres, pytest.mark.rabbitmq],
    ),
    pytest.param(
        ("mariadb", "rabbitmq"),
        id="mariadb-rabbitmq",
        marks=[pytest.mark.mariadb, pytest.mark.rabbitmq],
    ),
    pytest.param(
        ("postgres", "nats"), id="postgres-nats", marks=[pytest.mark.postgres, pytest.mark.nats]
    ),
    pytest.param(
        ("mariadb", "nats"), id="mariadb-nats", marks=[pytest.mark.mariadb, pytest.mark.nats]
    ),
]


@pytest.fixture(params=SETUPS)
def setup(request: pytest.FixtureRequest) -> tuple[str, str]:
    chosen: tuple[str, str] = request.param
    return chosen


@pytest.fixture
async def db(setup: tuple[str, str], make_database: Any, tmp_path: Path) -> Database:
    database: Database = await make_database(setup[0])
    await migrate(database, tmp_path)
    return database


@pytest.fixture
async def broker(setup: tuple[str, str]) -> AsyncIterator[Broker]:
    namespace = f"tidings_inbox_{uuid.uuid4().hex[:8]}"
    kind = setup[1]
    if kind == "memory":
        async with MemoryBroker("memory://", namespace=namespace) as memory:
            yield memory
    elif kind == "rabbitmq":
        async with RabbitMQBroker(AMQP_URL, namespace=namespace) as rabbit:
            try:
                yield rabbit
            finally:
                await rabbit.delete_namespace()
    else:
        async with NatsBroker(NATS_URL, namespace=namespace) as jetstream:
            try:
                yield jetstream
            finally:
                await jetstream.delete_namespace()


class SimulatedCrash(Exception):
    """The process died between its commit and its ack."""


def outgoing(body: bytes, message_id: str | None = None, topic: str = TOPIC) -> OutgoingMessage:
    return OutgoingMessage(message_id=message_id or str(uuid.uuid4()), topic=topic, body=body)


def make_consumer(db: Database, *, poison: str | None = None, queue_suffix: str = "") -> Consumer:
    consumer = Consumer(
        "replica",
        db,
        registry,
        service=f"svc{uuid.uuid4().hex[:8]}{queue_suffix}",
        retry=RetryPolicy(max_attempts=3, initial_delay=0.01, jitter=0),
    )

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        if event.name == poison:
            raise RuntimeError(f"cannot handle {event.name}")
        await record_effect(uow, envelope.id, event.name)

    return consumer


async def test_a_crash_between_commit_and_ack_has_one_effect(db: Database, broker: Broker) -> None:
    consumer = make_consumer(db)
    crashed: set[str] = set()
    second_outcomes: list[Outcome] = []

    async def dies_once_after_commit(delivery: Delivery) -> None:
        if delivery.body not in crashed:
            assert await consumer.process(delivery.body, delivery.headers) is Outcome.APPLIED
            crashed.add(delivery.body)
            raise SimulatedCrash
        assert delivery.attempt >= 2
        second_outcomes.append(await consumer.handle_delivery(delivery))

    messages = [message_bytes(ProfileRenamed(user_id=f"u{n}", name=f"n{n}")) for n in range(5)]
    subscription = await broker.subscribe(consumer.queue, consumer.topics, dies_once_after_commit)
    try:
        await broker.publish([outgoing(body, message_id) for message_id, body in messages])
        await wait_until(lambda: _length(second_outcomes, 5))
    finally:
        await subscription.stop()

    assert second_outcomes == [Outcome.DUPLICATE] * 5
    assert await effect_counts(db) == {message_id: 1 for message_id, _ in messages}


async def _length(items: list[Any], expected: int) -> bool:
    return len(items) >= expected


async def test_poison_is_dead_lettered_while_others_flow(db: Database, broker: Broker) -> None:
    consumer = make_consumer(db, poison="poison")
    good = [message_bytes(ProfileRenamed(user_id=f"u{n}", name=f"n{n}")) for n in range(6)]
    poison_id, poison = message_bytes(ProfileRenamed(user_id="p", name="poison"))
    subscription = await consumer.start(broker)
    try:
        await broker.publish(
            [outgoing(body, message_id) for message_id, body in good[:3]]
            + [outgoing(poison, poison_id)]
            + [outgoing(body, message_id) for message_id, body in good[3:]]
        )

        async def settled() -> bool:
            return len(await effect_counts(db)) == 6 and len(await list_dead_letters(db)) == 1

        await wait_until(settled)
    finally:
        await subscription.stop()

    assert await effect_counts(db) == {message_id: 1 for message_id, _ in good}
    [letter] = await list_dead_letters(db)
    assert (letter.message_id, letter.reason, letter.attempts) == (poison_id, "failed", 3)
    assert "cannot handle poison" in letter.error
    assert letter.body == poison


async def test_bad_messages_are_dead_lettered_at_once_with_their_reason(
    db: Database, broker: Broker
) -> None:
    consumer = make_consumer(db)
    good_id, good = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    unknown = json.loads(good)
    unknown.update(id=str(uuid.uuid4()), type="users.Unheard")
    invalid = json.loads(good)
    invalid["id"] = str(uuid.uuid4())
    invalid["data"]["user_id"] = {"not": "a string"}
    subscription = await consumer.start(broker, topics=[TOPIC, "users.Unheard"])
    try:
        await broker.publish(
            [
                outgoing(b"\x00garbage"),
                outgoing(json.dumps(unknown).encode(), topic="users.Unheard"),
                outgoing(json.dumps(invalid).encode()),
                outgoing(good, good_id),
            ]
        )

        async def settled() -> bool:
            return len(await effect_counts(db)) == 1 and len(await list_dead_letters(db)) == 3

        await wait_until(settled)
    finally:
        await subscription.stop()

    reasons = {letter.reason: letter for letter in await list_dead_letters(db)}
    assert set(reasons) == {"malformed", "unknown_type", "invalid"}
    assert all(letter.attempts <= 1 for letter in reasons.values())
    assert reasons["malformed"].message_id is None
    assert reasons["unknown_type"].message_id == unknown["id"]
    assert "'user_id'" in reasons["invalid"].error
    assert await effect_counts(db) == {good_id: 1}


async def test_a_replayed_dead_letter_is_applied_once_after_the_fix(
    db: Database, broker: Broker
) -> None:
    consumer = make_consumer(db, poison="Ada")
    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    subscription = await consumer.start(broker)
    try:
        await broker.publish([outgoing(body, message_id)])

        async def dead_lettered() -> bool:
            return len(await list_dead_letters(db)) == 1

        await wait_until(dead_lettered)
    finally:
        await subscription.stop()
    [letter] = await list_dead_letters(db)

    fixed = make_consumer(db)
    assert await replay(db, letter.id, fixed) is Outcome.APPLIED
    assert await replay(db, letter.id, fixed) is Outcome.DUPLICATE
    assert await effect_counts(db) == {message_id: 1}
