"""``tidings dlq replay`` through a server broker, for systems that declare no consumers."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import typer
from inbox_testkit import (
    ProfileRenamed,
    effect_counts,
    message_bytes,
    migrate,
    record_effect,
    registry,
    service_with_inbox,
    wait_until,
)
from typer.testing import CliRunner

from tidings.brokers.base import Broker
from tidings.brokers.factory import broker_from_url
from tidings.cli.dlq import register
from tidings.errors import ConfigurationError
from tidings.inbox import Consumer, Outcome, get_dead_letter, list_dead_letters
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork
from tidings.system import Service, System
from tidings.system import register as register_system

URLS = {
    "rabbitmq": os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "nats": os.environ.get("TIDINGS_TEST_NATS_URL", "nats://127.0.0.1:4222"),
    "memory": "memory://",
}


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def root() -> None:
        """Keeps ``dlq`` a subcommand."""

    return app


def consumer_for(database: Database, *, broken: bool) -> Consumer:
    async def no_sleep(_seconds: float) -> None:
        return None

    consumer = Consumer("replica", database, registry, service="notes", sleep=no_sleep)

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        if broken:
            raise RuntimeError("profile store offline")
        await record_effect(uow, envelope.id, event.name)

    return consumer


@pytest.fixture
async def dead_lettered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[System, Database, str]]:
    """A system without declared consumers, and one dead letter in its notes database."""
    name = f"tidings_dlq_{uuid.uuid4().hex[:8]}"
    plain = service_with_inbox(tmp_path, "notes")
    service = Service(
        name="notes",
        metadata=plain.metadata,
        migrations=plain.migrations,
        library_tables=("inbox", "dead_letters"),
    )
    system = register_system(System(name=name, services=(service,)))
    url = f"sqlite+aiosqlite:///{tmp_path / 'notes.db'}"
    monkeypatch.setenv("NOTES_DATABASE_URL", url)
    async with Database("notes", url) as database:
        await migrate(database, tmp_path)
        _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
        outcome = await consumer_for(database, broken=True).process(
            body, topic="users.ProfileRenamed"
        )
        assert outcome is Outcome.DEAD_LETTERED
        [letter] = await list_dead_letters(database)
        yield system, database, letter.id


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("nats", marks=pytest.mark.nats),
    ],
)
async def test_replay_publishes_the_original_bytes_to_the_running_consumer(
    kind: str, dead_lettered: tuple[System, Database, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, database, letter_id = dead_lettered
    monkeypatch.setenv("TIDINGS_BROKER_URL", URLS[kind])
    broker: Broker = broker_from_url(URLS[kind], namespace=system.name)
    async with broker:
        subscription = await consumer_for(database, broken=False).start(broker)
        try:
            result = await asyncio.to_thread(
                CliRunner().invoke,
                cli(),
                ["dlq", "replay", letter_id, "--system", system.name],
                catch_exceptions=False,
            )
            assert result.exit_code == 0, result.output
            assert "published again on users.ProfileRenamed" in result.output

            async def applied() -> bool:
                return len(await effect_counts(database)) == 1

            await wait_until(applied)
        finally:
            await subscription.stop()
            await broker.delete_namespace()  # type: ignore[attr-defined]
    assert (await get_dead_letter(database, letter_id)).replay_outcome == "published"


async def test_replay_refuses_an_in_process_broker_it_cannot_reach(
    dead_lettered: tuple[System, Database, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, _database, letter_id = dead_lettered
    monkeypatch.setenv("TIDINGS_BROKER_URL", "memory://")
    with pytest.raises(ConfigurationError, match="in-process"):
        await asyncio.to_thread(
            CliRunner().invoke,
            cli(),
            ["dlq", "replay", letter_id, "--system", system.name],
            catch_exceptions=False,
        )
