"""Dead-letter replay and purge, inbox retention, sync delays, metrics, subscribing."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from inbox_testkit import (
    ProfileRenamed,
    effect_counts,
    message_bytes,
    record_effect,
    registry,
    wait_until,
)
from prometheus_client import REGISTRY

from tidings.brokers.base import Broker, Handler, OutgoingMessage, Subscription
from tidings.errors import ConfigurationError, NotFound
from tidings.inbox import (
    Consumer,
    Outcome,
    applied_ids,
    count_dead_letters,
    get_dead_letter,
    list_dead_letters,
    purge_dead_letters,
    purge_inbox,
    purge_inbox_periodically,
    replay,
    sync_delay_percentiles,
    sync_delays,
)
from tidings.inbox.records import percentile, record
from tidings.messages import Envelope, MessageRegistry, encode
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork, unit_of_work


async def no_sleep(_seconds: float) -> None:
    return None


def fragile(db: Database, *, fixed: list[bool]) -> Consumer:
    consumer = Consumer("fragile", db, registry, sleep=no_sleep)

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        if not fixed[0]:
            raise KeyError("profile cache")
        await record_effect(uow, envelope.id, event.name)

    return consumer


async def test_replay_after_the_fix_applies_once_and_marks_the_letter(db: Database) -> None:
    fixed = [False]
    consumer = fragile(db, fixed=fixed)
    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    assert await consumer.process(body, {"traceparent": "t"}) is Outcome.DEAD_LETTERED
    [letter] = await list_dead_letters(db)
    assert letter.replayed_at is None

    fixed[0] = True
    assert await replay(db, letter.id, consumer) is Outcome.APPLIED

    assert await effect_counts(db) == {message_id: 1}
    replayed = await get_dead_letter(db, letter.id)
    assert replayed.replayed_at is not None
    assert replayed.replay_outcome == "applied"
    # A second replay finds the inbox row.
    assert await replay(db, letter.id, consumer) is Outcome.DUPLICATE
    assert await effect_counts(db) == {message_id: 1}


async def test_a_replay_that_fails_again_is_dead_lettered_again(db: Database) -> None:
    consumer = fragile(db, fixed=[False])
    _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    await consumer.process(body)
    [letter] = await list_dead_letters(db)

    assert await replay(db, letter.id, consumer) is Outcome.DEAD_LETTERED

    letters = await list_dead_letters(db)
    assert len(letters) == 2
    assert (await get_dead_letter(db, letter.id)).replay_outcome == "dead_lettered"
    assert len(await list_dead_letters(db, include_replayed=False)) == 1


async def test_an_unknown_type_replays_once_the_consumer_knows_it(db: Database) -> None:
    old = Consumer("replica", db, MessageRegistry(), sleep=no_sleep)
    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    assert await old.process(body) is Outcome.DEAD_LETTERED
    [letter] = await list_dead_letters(db)
    assert letter.reason == "unknown_type"

    upgraded = fragile(db, fixed=[True])
    upgraded.name = "replica"
    assert await replay(db, letter.id, upgraded) is Outcome.APPLIED
    assert await effect_counts(db) == {message_id: 1}


async def test_replay_refuses_another_consumer_and_unknown_ids(db: Database) -> None:
    consumer = fragile(db, fixed=[False])
    _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    await consumer.process(body)
    [letter] = await list_dead_letters(db)
    other = Consumer("other", db, registry)

    with pytest.raises(ConfigurationError, match="belongs to consumer fragile"):
        await replay(db, letter.id, other)
    with pytest.raises(NotFound):
        await replay(db, "no-such-letter", consumer)


class RecordingBroker(Broker):
    url = "fake://"

    def __init__(self) -> None:
        self.published: list[OutgoingMessage] = []
        self.subscriptions: list[tuple[str, list[str], Handler, int]] = []

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        return None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        self.published.extend(messages)

    async def subscribe(
        self, queue: str, topics: Sequence[str], handler: Handler, *, prefetch: int = 64
    ) -> Subscription:
        self.subscriptions.append((queue, list(topics), handler, prefetch))

        class Stopped(Subscription):
            async def stop(self) -> None:
                return None

        return Stopped()

    async def ping(self) -> None:
        return None


async def test_replay_through_a_broker_republishes_the_original_bytes(db: Database) -> None:
    consumer = fragile(db, fixed=[False])
    _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    await consumer.process(body, {"traceparent": "t"}, topic="users.ProfileRenamed")
    [letter] = await list_dead_letters(db)
    broker = RecordingBroker()

    assert await replay(db, letter.id, broker) is None

    [published] = broker.published
    assert (published.topic, published.body, dict(published.headers)) == (
        "users.ProfileRenamed",
        body,
        {"traceparent": "t"},
    )
    assert published.message_id != letter.message_id
    assert (await get_dead_letter(db, letter.id)).replay_outcome == "published"


async def test_start_subscribes_the_service_queue_to_the_handled_types(db: Database) -> None:
    consumer = fragile(db, fixed=[True])
    broker = RecordingBroker()

    await consumer.start(broker)
    await consumer.start(broker, queue="custom", topics=["users.#"])

    [(queue, topics, handler, _), (queue2, topics2, _, _)] = broker.subscriptions
    assert (queue, topics) == ("svc.fragile", ["users.ProfileRenamed"])
    assert (queue2, topics2) == ("custom", ["users.#"])
    assert handler == consumer._on_delivery


async def test_purge_dead_letters_by_id_and_by_age(db: Database) -> None:
    consumer = fragile(db, fixed=[False])
    for name in ("a", "b", "c"):
        await consumer.process(message_bytes(ProfileRenamed(user_id="u", name=name))[1])
    letters = await list_dead_letters(db)

    with pytest.raises(ValueError):
        await purge_dead_letters(db)
    assert await purge_dead_letters(db, ids=[letters[0].id]) == 1
    assert await purge_dead_letters(db, older_than=timedelta(hours=1)) == 0
    assert await count_dead_letters(db) == 2
    assert await purge_dead_letters(db, older_than=timedelta(0), consumer="other") == 0
    assert await purge_dead_letters(db, older_than=timedelta(0)) == 2
    assert await count_dead_letters(db) == 0


def envelope_at(event: ProfileRenamed, committed: datetime) -> Envelope:
    return dataclasses.replace(registry.envelope_for(event, source="users"), time=committed)


async def test_purge_inbox_deletes_only_rows_past_the_retention(db: Database) -> None:
    now = datetime.now(UTC)
    async with unit_of_work(db) as uow:
        for message_id, age in (("old", timedelta(days=9)), ("new", timedelta(hours=1))):
            await record(
                uow,
                consumer="replica",
                message_id=message_id,
                message_type="users.ProfileRenamed",
                committed_at=now - age,
                applied_at=now - age,
            )

    assert await purge_inbox(db, timedelta(days=7)) == 1

    delays = await sync_delays(db)
    assert list(delays) == ["users.ProfileRenamed"]
    assert len(delays["users.ProfileRenamed"]) == 1


async def test_sync_delays_measure_commit_to_effect_per_type(db: Database) -> None:
    consumer = fragile(db, fixed=[True])
    now = datetime.now(UTC)
    for seconds in (1, 2, 3, 4):
        envelope = envelope_at(
            ProfileRenamed(user_id="u", name="n"), now - timedelta(seconds=seconds)
        )
        assert await consumer.process(encode(envelope)) is Outcome.APPLIED
    before = REGISTRY.get_sample_value(
        "tidings_commit_to_effect_seconds_count",
        {"consumer": "fragile", "type": "users.ProfileRenamed"},
    )

    delays = (await sync_delays(db, since=now - timedelta(minutes=1)))["users.ProfileRenamed"]
    assert delays == sorted(delays)
    assert [round(value) for value in delays] == [1, 2, 3, 4]
    summary = (await sync_delay_percentiles(db))["users.ProfileRenamed"]
    assert summary["count"] == 4
    assert round(summary["p50"]) == 2
    assert round(summary["p99"]) == 4
    assert await sync_delays(db, since=now + timedelta(minutes=1)) == {}
    assert before is not None
    assert before >= 4


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_metrics_survive_a_reload() -> None:
    from tidings.inbox import metrics

    counter = metrics.DEAD_LETTERS
    reloaded = importlib.reload(metrics)
    assert reloaded.DEAD_LETTERS is counter


async def test_dead_letters_keep_non_utf8_bytes_and_headers(db: Database) -> None:
    consumer = fragile(db, fixed=[True])
    body = bytes(range(256))
    await consumer.process(body, {"x-trace": "ä"}, topic="t")
    [letter] = await list_dead_letters(db)
    assert letter.body == body
    assert letter.headers == {"x-trace": "ä"}
    assert json.loads(json.dumps(dict(letter.headers))) == {"x-trace": "ä"}


async def test_the_periodic_purge_runs_until_stopped(db: Database) -> None:
    async with unit_of_work(db) as uow:
        await record(
            uow,
            consumer="replica",
            message_id="ancient",
            message_type="users.ProfileRenamed",
            committed_at=None,
            applied_at=datetime.now(UTC) - timedelta(days=30),
        )
    stop = asyncio.Event()
    task = asyncio.create_task(purge_inbox_periodically(db, stop, every=timedelta(seconds=30)))

    async def purged() -> bool:
        return await applied_ids(db, "replica") == set()

    await wait_until(purged)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
