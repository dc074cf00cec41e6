"""Proof under faults: outbox -> relay -> broker -> inbox, on PostgreSQL and MariaDB,
with RabbitMQ and with NATS JetStream. Each test checks the recorded history:
every committed event id applied exactly once downstream, nothing else applied.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faults_rig import COMBINATIONS, DIAGONAL, TIMEOUT, Counted, Poison, Rig, registry, rig
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.brokers.base import Delivery, OutgoingMessage
from tidings.inbox import Outcome, list_dead_letters
from tidings.messages import encode
from tidings.outbox import Relay, add, outbox
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import wait_until


@pytest.fixture
async def the_rig(request: pytest.FixtureRequest, make_database: Any) -> AsyncIterator[Rig]:
    backend, kind = request.param
    async with rig(make_database, backend, kind) as made:
        yield made


class RelayKilled(BaseException):
    """The relay process dies: nothing of it runs after this (not an Exception it could retry)."""


class KilledBeforeMark(Relay):
    async def _mark_published(self, connection: AsyncConnection, seqs: list[int]) -> None:
        raise RelayKilled(f"killed after the broker confirmed {len(seqs)} rows, before marking")


@pytest.mark.parametrize("the_rig", COMBINATIONS, indirect=True)
async def test_relay_killed_between_confirm_and_mark_has_one_effect(the_rig: Rig) -> None:
    consumer = the_rig.consumer()
    await the_rig.start_consumer(consumer, await the_rig.broker())
    await the_rig.write(40)
    doomed = the_rig.relay(await the_rig.broker(), KilledBeforeMark, batch_size=20)
    with pytest.raises(RelayKilled):
        await doomed.run_once()
    # The confirmed but unmarked rows are still unpublished: a new relay sends them again.
    async with the_rig.relay(await the_rig.broker()) as successor:
        await the_rig.wait_all_applied()
        await wait_until(lambda: successor.published == 40, timeout=TIMEOUT, message="all marked")
    if the_rig.kind == "rabbitmq":
        # The 20 went over the wire twice; the inbox turned the copies into no-ops.
        # (JetStream drops a re-publish with the same Nats-Msg-Id itself.)
        await wait_until(
            lambda: the_rig.outcomes.count(Outcome.DUPLICATE) >= 20,
            timeout=TIMEOUT,
            message="the duplicates delivered and skipped",
        )
    await the_rig.assert_exactly_once()


class ConsumerCrashed(Exception):
    """The consumer process dies after its commit, before its ack."""


@pytest.mark.parametrize("the_rig", COMBINATIONS, indirect=True)
async def test_consumer_crash_after_commit_before_ack_has_one_effect(the_rig: Rig) -> None:
    consumer = the_rig.consumer()
    crashed: set[str] = set()
    redelivered: set[str] = set()

    async def crash_after_commit(delivery: Delivery) -> None:
        outcome = await consumer.process(delivery.body, delivery.headers, topic=delivery.topic)
        the_rig.outcomes.append(outcome)
        if delivery.message_id in crashed:
            redelivered.add(delivery.message_id)
        elif outcome is Outcome.APPLIED and len(crashed) < 10:
            crashed.add(delivery.message_id)
            # Unacknowledged: the broker hands the delivery out again.
            raise ConsumerCrashed(delivery.message_id)
        await delivery.ack()

    await the_rig.start_consumer(consumer, await the_rig.broker(), crash_after_commit)
    async with the_rig.relay(await the_rig.broker()):
        await the_rig.write(30)
        await the_rig.wait_all_applied()
        await wait_until(
            lambda: redelivered == crashed and len(crashed) == 10,
            timeout=TIMEOUT,
            message="every crashed delivery redelivered",
        )
    await the_rig.assert_exactly_once()
    assert the_rig.outcomes.count(Outcome.DUPLICATE) >= 10


@pytest.mark.parametrize("the_rig", COMBINATIONS, indirect=True)
async def test_two_relays_publish_every_row_once_in_aggregate_order(the_rig: Rig) -> None:
    consumer = the_rig.consumer()
    await the_rig.start_consumer(consumer, await the_rig.broker())
    first = the_rig.relay(await the_rig.broker(), batch_size=10)
    second = the_rig.relay(await the_rig.broker(), batch_size=10)
    async with first, second:
        await the_rig.write(120, aggregates=8, per_transaction=10)
        await the_rig.wait_all_applied()
        await wait_until(
            lambda: first.published + second.published >= 120,
            timeout=TIMEOUT,
            message="every row marked",
        )
    assert first.published + second.published == 120, "no row published twice"
    await the_rig.assert_exactly_once()
    the_rig.assert_aggregate_order()


class RolledBack(Exception):
    pass


async def write_then_roll_back(the_rig: Rig, ids: list[str]) -> None:
    async with unit_of_work(the_rig.upstream) as uow:
        for n in range(3):
            envelope = await add(
                uow, registry, Counted(n=-n), aggregate_type="counter", aggregate_id="c-0"
            )
            ids.append(envelope.id)
        raise RolledBack


@pytest.mark.parametrize("the_rig", DIAGONAL, indirect=True)
async def test_rolled_back_outbox_row_is_never_published(the_rig: Rig) -> None:
    consumer = the_rig.consumer()
    await the_rig.start_consumer(consumer, await the_rig.broker())
    doomed: list[str] = []
    async with the_rig.relay(await the_rig.broker()) as relay:
        await the_rig.write(10)
        with pytest.raises(RolledBack):
            await write_then_roll_back(the_rig, doomed)
        the_rig.history.rolled_back(doomed)
        await the_rig.write(10)
        await the_rig.wait_all_applied()
        await wait_until(lambda: relay.published == 20, timeout=TIMEOUT, message="all marked")
    async with the_rig.upstream.transaction() as connection:
        rows = (await connection.execute(select(outbox.c.id))).scalars().all()
    assert not set(doomed) & set(rows)
    assert len(rows) == 20
    # A rolled-back id taking effect would show as a phantom.
    await the_rig.assert_exactly_once()


def _mangled(n: int, change: Any) -> bytes:
    envelope = json.loads(encode(registry.envelope_for(Counted(n=n), source="upstream")))
    change(envelope)
    return json.dumps(envelope).encode()


@pytest.mark.parametrize("the_rig", DIAGONAL, indirect=True)
async def test_poison_and_malformed_messages_are_dead_lettered_and_the_rest_flows(
    the_rig: Rig,
) -> None:
    consumer = the_rig.consumer()
    await the_rig.start_consumer(consumer, await the_rig.broker())
    bad = {
        "not json": b"\xff not an envelope",
        "no id": _mangled(1, lambda e: e.pop("id")),
        "unknown type": _mangled(2, lambda e: e.update(type="faults.Unheard")),
        "invalid": _mangled(3, lambda e: e.update(data={"n": "three"})),
    }
    rogue = await the_rig.broker()
    async with the_rig.relay(await the_rig.broker()):
        await the_rig.write(10)
        await rogue.publish(
            [
                OutgoingMessage(message_id=f"bad-{i}", topic="faults.Counted", body=body)
                for i, body in enumerate(bad.values())
            ]
        )
        async with unit_of_work(the_rig.upstream) as uow:
            poison = await add(
                uow, registry, Poison(n=1), aggregate_type="poison", aggregate_id="p"
            )
        await the_rig.write(10)
        await the_rig.wait_all_applied()

        async def all_dead() -> bool:
            letters = await list_dead_letters(the_rig.downstream, consumer=consumer.name)
            return len(letters) >= len(bad) + 1

        await wait_until(all_dead, timeout=TIMEOUT, interval=0.05, message="dead letters stored")
    letters = await list_dead_letters(the_rig.downstream, consumer=consumer.name)
    reasons = sorted(letter.reason for letter in letters)
    assert reasons == sorted(["malformed", "malformed", "unknown_type", "invalid", "failed"])
    failed = next(letter for letter in letters if letter.reason == "failed")
    assert failed.message_id == poison.id
    assert "poison 1 always fails" in failed.error
    assert failed.attempts == consumer.retry.max_attempts
    assert {bytes(letter.body) for letter in letters} >= set(bad.values())
    # The poison message was committed but is dead-lettered, not applied: the
    # history holds only the good events, each applied once.
    assert poison.id not in await the_rig.applied()
    await the_rig.assert_exactly_once()
