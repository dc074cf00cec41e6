"""Outbox -> relay -> broker -> consumer: every committed event applied once downstream."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from inbox_testkit import (
    ProfileRenamed,
    effect_counts,
    migrate,
    record_effect,
    registry,
    wait_until,
)
from sqlalchemy import MetaData

from tidings.brokers.base import Broker
from tidings.brokers.factory import broker_from_url
from tidings.inbox import Consumer, sync_delay_percentiles
from tidings.messages import Envelope
from tidings.migrations import runner
from tidings.outbox import Relay, add
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork, unit_of_work
from tidings.system import Service

URLS = {
    "memory": "memory://",
    "rabbitmq": os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "nats": os.environ.get("TIDINGS_TEST_NATS_URL", "nats://127.0.0.1:4222"),
}

_PRODUCER_REVISION = """
from tidings.outbox.schema import create_outbox, drop_outbox

revision = "producer_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox()


def downgrade() -> None:
    drop_outbox()
"""

EVENTS = 40


@pytest.fixture(
    params=[
        pytest.param(("sqlite", "sqlite", "memory"), id="sqlite-memory-sqlite"),
        pytest.param(
            ("postgres", "mariadb", "rabbitmq"),
            id="postgres-rabbitmq-mariadb",
            marks=[pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.rabbitmq],
        ),
        pytest.param(
            ("mariadb", "postgres", "nats"),
            id="mariadb-nats-postgres",
            marks=[pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.nats],
        ),
    ]
)
def setup(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    chosen: tuple[str, str, str] = request.param
    return chosen


@pytest.fixture
async def broker(setup: tuple[str, str, str]) -> AsyncIterator[Broker]:
    connected = broker_from_url(URLS[setup[2]], namespace=f"tidings_inbox_{uuid.uuid4().hex[:8]}")
    async with connected:
        try:
            yield connected
        finally:
            delete = getattr(connected, "delete_namespace", None)
            if delete is not None:
                await delete()


async def test_every_committed_event_is_applied_exactly_once(
    setup: tuple[str, str, str], make_database: Any, broker: Broker, tmp_path: Path
) -> None:
    producer: Database = await make_database(setup[0], service="users")
    consumer_db: Database = await make_database(setup[1], service="notes")
    history = tmp_path / "producer"
    history.mkdir()
    (history / "producer_0001.py").write_text(_PRODUCER_REVISION)
    await runner.upgrade(producer, Service("users", MetaData(), history))
    await migrate(consumer_db, tmp_path)

    consumer = Consumer("authors", consumer_db, registry)

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)

    subscription = await consumer.start(broker)
    committed: list[str] = []
    try:
        async with Relay(producer, broker, poll_interval=0.05):
            for n in range(EVENTS):
                async with unit_of_work(producer) as uow:
                    envelope = await add(
                        uow,
                        registry,
                        ProfileRenamed(user_id=f"u{n % 5}", name=f"name {n}"),
                        aggregate_type="user",
                        aggregate_id=f"u{n % 5}",
                    )
                committed.append(envelope.id)
            # A rolled-back event must never arrive.
            with pytest.raises(RuntimeError):
                await add_then_roll_back(producer)

            async def all_applied() -> bool:
                return len(await effect_counts(consumer_db)) >= EVENTS

            await wait_until(all_applied, timeout=30)
    finally:
        await subscription.stop()

    assert await effect_counts(consumer_db) == dict.fromkeys(committed, 1)
    summary = (await sync_delay_percentiles(consumer_db))["users.ProfileRenamed"]
    assert summary["count"] == EVENTS
    assert 0 <= summary["p50"] <= summary["p99"] < 30


async def add_then_roll_back(producer: Database) -> None:
    async with unit_of_work(producer) as uow:
        await add(
            uow,
            registry,
            ProfileRenamed(user_id="ghost", name="never"),
            aggregate_type="user",
            aggregate_id="ghost",
        )
        raise RuntimeError("the business rule failed")
