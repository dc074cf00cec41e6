"""``tidings dlq`` against a registered system on SQLite files."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
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
)
from typer.testing import CliRunner

from tidings.cli.dlq import parse_duration, register
from tidings.errors import ConfigurationError, NotFound
from tidings.inbox import Consumer, Outcome, list_dead_letters
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork
from tidings.system import Service, System
from tidings.system import register as register_system

FIXED = {"replica": False}


def replica(database: Database) -> Consumer:
    async def no_sleep(_seconds: float) -> None:
        return None

    consumer = Consumer("replica", database, registry, sleep=no_sleep)

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        if not FIXED["replica"]:
            raise RuntimeError("profile store offline")
        await record_effect(uow, envelope.id, event.name)

    return consumer


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> System:
    """A system of one service, ``notes``, with two dead letters in its SQLite file."""
    FIXED["replica"] = False
    monkeypatch.setenv("COLUMNS", "200")  # rich folds a table to 80 columns off a terminal
    name = f"dlqtest{uuid.uuid4().hex[:6]}"
    plain = service_with_inbox(tmp_path, "notes")
    service = Service(
        name="notes",
        metadata=plain.metadata,
        migrations=plain.migrations,
        library_tables=("inbox", "dead_letters"),
    )
    other = Service(name="search", metadata=plain.metadata, migrations=plain.migrations)
    url = f"sqlite+aiosqlite:///{tmp_path / 'notes.db'}"
    monkeypatch.setenv("NOTES_DATABASE_URL", url)
    declared = register_system(
        System(
            name=name,
            services=(service, other),
            extras={"consumers": lambda _service, database: [replica(database)]},
        )
    )

    async def seed() -> None:
        async with Database("notes", url) as database:
            await migrate(database, tmp_path)
            consumer = replica(database)
            await consumer.process(b"{broken", {"h": "1"}, topic="users.ProfileRenamed")
            _, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada"))
            assert await consumer.process(body, topic="users.ProfileRenamed") is (
                Outcome.DEAD_LETTERED
            )

    asyncio.run(seed())
    return declared


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def root() -> None:
        """Needed so that ``dlq`` stays a subcommand."""

    return app


def letters(system: System) -> list:  # type: ignore[type-arg]
    async def load() -> list:  # type: ignore[type-arg]
        async with system.database("notes") as database:
            return await list_dead_letters(database)

    return asyncio.run(load())


def invoke(*arguments: str) -> str:
    result = CliRunner().invoke(cli(), list(arguments), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_list_shows_every_dead_letter(system: System) -> None:
    output = invoke("dlq", "list", "--system", system.name)
    for letter in letters(system):
        assert letter.id in output
    assert "malformed" in output
    assert "failed" in output


def test_show_prints_the_error_headers_and_body(system: System) -> None:
    failed = next(letter for letter in letters(system) if letter.reason == "failed")
    output = invoke("dlq", "show", failed.id, "--system", system.name)
    assert "profile store offline" in output
    assert '"name": "Ada"' in output
    assert failed.message_id is not None
    assert failed.message_id in output


def test_show_an_unknown_id_is_not_found(system: System) -> None:
    with pytest.raises(NotFound):
        CliRunner().invoke(
            cli(), ["dlq", "show", "nope", "--system", system.name], catch_exceptions=False
        )


def test_replay_runs_the_fixed_consumer_once(system: System) -> None:
    failed = next(letter for letter in letters(system) if letter.reason == "failed")
    FIXED["replica"] = True

    output = invoke("dlq", "replay", failed.id, "--system", system.name)

    assert "applied" in output

    async def effects() -> dict[str, int]:
        async with system.database("notes") as database:
            return await effect_counts(database)

    assert asyncio.run(effects()) == {failed.message_id: 1}
    replayed = next(letter for letter in letters(system) if letter.id == failed.id)
    assert replayed.replay_outcome == "applied"
    pending = invoke("dlq", "list", "--system", system.name, "--pending")
    assert failed.id not in pending


def test_purge_needs_a_selection_then_deletes(system: System) -> None:
    result = CliRunner().invoke(cli(), ["dlq", "purge", "--system", system.name])
    assert result.exit_code != 0
    first, second = letters(system)

    assert "purged 1" in invoke("dlq", "purge", "--system", system.name, "--id", first.id)
    assert "purged 0" in invoke("dlq", "purge", "--system", system.name, "--older-than", "1d")
    assert "purged 1" in invoke("dlq", "purge", "--system", system.name, "--all")
    assert letters(system) == []
    assert "no dead letters" in invoke("dlq", "list", "--system", system.name)
    assert second.id


def test_a_service_without_a_dead_letter_store_is_refused(system: System) -> None:
    only_search = System(name=system.name + "x", services=(system.services[1],))
    register_system(only_search)
    with pytest.raises(ConfigurationError, match="no service"):
        CliRunner().invoke(
            cli(), ["dlq", "list", "--system", only_search.name], catch_exceptions=False
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("7d", timedelta(days=7))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    with pytest.raises(typer.BadParameter):
        parse_duration("soon")
