from __future__ import annotations

import json

import pytest
from inbox_testkit import (
    FakeDelivery,
    ProfileRenamed,
    UserDeleted,
    effect_counts,
    message_bytes,
    record_effect,
    registry,
)
from prometheus_client import REGISTRY

from tidings.errors import ConfigurationError, InvalidMessage, OperationalError
from tidings.inbox import (
    Consumer,
    Outcome,
    Reason,
    RetryPolicy,
    applied_ids,
    list_dead_letters,
)
from tidings.messages import Envelope, MessageRegistry
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


class Sleeps:
    """Records the backoff instead of sleeping it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def replica(db: Database, *, retry: RetryPolicy | None = None, name: str = "replica") -> Consumer:
    consumer = Consumer(name, db, registry, retry=retry, sleep=Sleeps())

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)

    return consumer


def sample(value: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(value, labels) or 0.0


async def test_a_message_is_applied_with_its_inbox_row(db: Database) -> None:
    consumer = replica(db)
    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    delivery = FakeDelivery(body)

    assert await consumer.handle_delivery(delivery) is Outcome.APPLIED

    assert delivery.settled == [("ack", None)]
    assert await effect_counts(db) == {message_id: 1}
    assert await applied_ids(db, "replica") == {message_id}


async def test_a_redelivered_message_is_acked_without_a_second_effect(db: Database) -> None:
    consumer = replica(db, name="redelivered")
    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    before = sample(
        "tidings_messages_duplicate_total", consumer="redelivered", type="users.ProfileRenamed"
    )

    assert await consumer.process(body) is Outcome.APPLIED
    second = FakeDelivery(body, attempt=2)
    assert await consumer.handle_delivery(second) is Outcome.DUPLICATE

    assert second.settled == [("ack", None)]
    assert await effect_counts(db) == {message_id: 1}
    after = sample(
        "tidings_messages_duplicate_total", consumer="redelivered", type="users.ProfileRenamed"
    )
    assert after == before + 1


async def test_crash_after_commit_before_ack_has_one_effect(db: Database) -> None:
    consumer = replica(db)
    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    crashing = FakeDelivery(body, fail_ack=ConnectionError("consumer died before its ack"))

    with pytest.raises(ConnectionError):
        await consumer.handle_delivery(crashing)
    # The broker never saw an ack, so it delivers again.
    redelivery = FakeDelivery(body, attempt=2)
    assert await consumer.handle_delivery(redelivery) is Outcome.DUPLICATE

    assert redelivery.settled == [("ack", None)]
    assert await effect_counts(db) == {message_id: 1}


async def test_a_failed_attempt_leaves_no_effect_and_the_retry_applies_once(db: Database) -> None:
    consumer = Consumer(
        "flaky",
        db,
        registry,
        retry=RetryPolicy(max_attempts=4, jitter=0),
        sleep=(sleeps := Sleeps()),
    )
    failures = 2

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        nonlocal failures
        await record_effect(uow, envelope.id, event.name)
        if failures:
            failures -= 1
            raise RuntimeError("the search index timed out")

    before = sample("tidings_message_retries_total", consumer="flaky", type="users.ProfileRenamed")
    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))

    assert await consumer.process(body) is Outcome.APPLIED

    assert await effect_counts(db) == {message_id: 1}
    assert sleeps.waits == pytest.approx([0.1, 0.2])
    after = sample("tidings_message_retries_total", consumer="flaky", type="users.ProfileRenamed")
    assert after == before + 2


async def test_a_poison_message_is_dead_lettered_and_others_keep_flowing(db: Database) -> None:
    consumer = Consumer("poisoned", db, registry, retry=RetryPolicy(max_attempts=3), sleep=Sleeps())

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        if event.name == "poison":
            raise ZeroDivisionError("the handler cannot cope with this one")
        await record_effect(uow, envelope.id, event.name)

    before = sample("tidings_dead_letters_total", consumer="poisoned", reason="failed")
    poison_id, poison = message_bytes(ProfileRenamed(user_id="u1", name="poison"))
    good_id, good = message_bytes(ProfileRenamed(user_id="u2", name="Grace"))
    poison_delivery = FakeDelivery(poison, headers={"traceparent": "00-abc-def-01"})

    assert await consumer.handle_delivery(poison_delivery) is Outcome.DEAD_LETTERED
    assert await consumer.process(good) is Outcome.APPLIED

    assert poison_delivery.settled == [("ack", None)]
    assert await effect_counts(db) == {good_id: 1}
    [letter] = await list_dead_letters(db, consumer="poisoned")
    assert letter.message_id == poison_id
    assert letter.message_type == "users.ProfileRenamed"
    assert letter.reason == Reason.FAILED.value
    assert letter.attempts == 3
    assert "ZeroDivisionError: the handler cannot cope with this one" in letter.error
    assert letter.body == poison
    assert letter.headers == {"traceparent": "00-abc-def-01"}
    assert letter.topic == "users.ProfileRenamed"
    assert sample("tidings_dead_letters_total", consumer="poisoned", reason="failed") == before + 1


async def test_unparseable_bytes_are_dead_lettered_at_once_without_an_id(db: Database) -> None:
    consumer = replica(db)
    garbage = b"\xff\xfe not json at all"

    assert await consumer.handle_delivery(FakeDelivery(garbage)) is Outcome.DEAD_LETTERED

    [letter] = await list_dead_letters(db)
    assert letter.reason == "malformed"
    assert letter.message_id is None
    assert letter.attempts == 0
    assert letter.body == garbage
    assert "not JSON" in letter.error
    assert letter.id


async def test_an_envelope_without_a_type_keeps_its_id_in_the_dead_letter(db: Database) -> None:
    consumer = replica(db)
    body = json.dumps({"specversion": "1.0", "id": "m-1", "source": "users"}).encode()

    assert await consumer.process(body) is Outcome.DEAD_LETTERED

    [letter] = await list_dead_letters(db)
    assert (letter.reason, letter.message_id) == ("malformed", "m-1")
    assert "'type'" in letter.error


async def test_an_envelope_without_an_id_is_malformed(db: Database) -> None:
    consumer = replica(db)
    _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    event = json.loads(body)
    del event["id"]

    assert await consumer.process(json.dumps(event).encode()) is Outcome.DEAD_LETTERED

    [letter] = await list_dead_letters(db)
    assert letter.reason == "malformed"
    assert letter.message_id is None
    assert "'id'" in letter.error


async def test_an_unknown_type_is_dead_lettered_at_once(db: Database) -> None:
    consumer = replica(db)
    _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    event = json.loads(body)
    event["type"] = "users.Teleported"

    assert await consumer.process(json.dumps(event).encode()) is Outcome.DEAD_LETTERED

    [letter] = await list_dead_letters(db)
    assert (letter.reason, letter.message_type) == ("unknown_type", "users.Teleported")
    assert "users.Teleported" in letter.error


async def test_invalid_data_is_dead_lettered_naming_the_field(db: Database) -> None:
    consumer = replica(db)
    _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    event = json.loads(body)
    del event["data"]["name"]

    assert await consumer.process(json.dumps(event).encode()) is Outcome.DEAD_LETTERED

    [letter] = await list_dead_letters(db)
    assert letter.reason == "invalid"
    assert "'name'" in letter.error
    assert await effect_counts(db) == {}


async def test_a_handler_that_rejects_the_message_is_not_retried(db: Database) -> None:
    consumer = Consumer("strict", db, registry, sleep=(sleeps := Sleeps()))

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)
        raise InvalidMessage("names may not be empty")

    _, body = message_bytes(ProfileRenamed(user_id="u1", name=""))
    assert await consumer.process(body) is Outcome.DEAD_LETTERED

    [letter] = await list_dead_letters(db, consumer="strict")
    assert (letter.reason, letter.attempts) == ("rejected", 1)
    assert sleeps.waits == []
    assert await effect_counts(db) == {}


async def test_a_database_outage_hands_the_delivery_back(db: Database) -> None:
    consumer = Consumer(
        "outage", db, registry, retry=RetryPolicy(max_attempts=2, max_delay=7), sleep=Sleeps()
    )

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    delivery = FakeDelivery(body)

    assert await consumer.handle_delivery(delivery) is Outcome.DEFERRED

    assert delivery.settled == [("nack", 7)]
    assert await list_dead_letters(db) == []


async def test_a_known_type_without_a_handler_is_ignored(db: Database) -> None:
    consumer = replica(db)
    _, body = message_bytes(UserDeleted(user_id="u1"))
    delivery = FakeDelivery(body, topic="users.UserDeleted")

    assert await consumer.handle_delivery(delivery) is Outcome.IGNORED

    assert delivery.settled == [("ack", None)]
    assert await applied_ids(db, "replica") == set()


async def test_handlers_are_declared_once_per_registered_type(db: Database) -> None:
    consumer = replica(db)

    async def again(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        return None

    with pytest.raises(ConfigurationError, match="already handles"):
        consumer.on(ProfileRenamed, again)
    stranger = Consumer("stranger", db, MessageRegistry())
    with pytest.raises(ConfigurationError, match="not a registered message"):
        stranger.on(ProfileRenamed, again)


async def test_a_failing_after_commit_callback_does_not_undo_the_outcome(db: Database) -> None:
    consumer = Consumer("callbacks", db, registry, sleep=Sleeps())

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)

        def explode() -> None:
            raise RuntimeError("cache invalidation failed")

        uow.after_commit(explode)

    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
    assert await consumer.process(body) is Outcome.APPLIED
    assert await effect_counts(db) == {message_id: 1}
    assert await list_dead_letters(db) == []


async def test_an_id_longer_than_the_inbox_holds_is_malformed(db: Database) -> None:
    consumer = replica(db)
    _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"), message_id="x" * 151)

    assert await consumer.process(body) is Outcome.DEAD_LETTERED

    [letter] = await list_dead_letters(db)
    assert letter.reason == "malformed"
    assert "longer than the inbox holds" in letter.error
