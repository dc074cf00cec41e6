"""The notes services' operations on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from examples.notes.auth import operations as auth
from examples.notes.auth.passwords import hash_password, verify_password
from examples.notes.notes import operations as notes
from examples.notes.system import system
from examples.notes.user import operations as user
from tidings.errors import AppendOnlyViolation, ConcurrencyError, IntegrityError, NotFound
from tidings.migrations import runner
from tidings.storage.database import Database


@pytest.fixture
async def databases(tmp_path: Path) -> AsyncIterator[dict[str, Database]]:
    opened = {
        service.name: Database(service.name, f"sqlite+aiosqlite:///{tmp_path / service.name}.db")
        for service in system.services
    }
    for service in system.services:
        await runner.upgrade(opened[service.name], service)
    yield opened
    for database in opened.values():
        await database.close()


def test_password_hashes_are_salted_and_verifiable() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second
    assert first.startswith("scrypt$")
    assert verify_password("pw", first)
    assert not verify_password("wrong", first)


async def test_an_email_registers_once(databases: dict[str, Database]) -> None:
    account = await auth.register_user(databases["auth"], "Ada@Example.com", "pw")
    assert await auth.find_user(databases["auth"], "ada@example.com") == account
    assert await auth.check_password(databases["auth"], "ada@example.com", "pw")
    assert not await auth.check_password(databases["auth"], "ada@example.com", "nope")
    with pytest.raises(IntegrityError):
        await auth.register_user(databases["auth"], "ada@example.com", "other")


async def test_a_stale_note_edit_is_refused(databases: dict[str, Database]) -> None:
    note = await notes.create_note(databases["notes"], "u-1", "first")
    edited = await notes.update_note(databases["notes"], note.id, 1, "second")
    assert (edited.content, edited.version) == ("second", 2)
    with pytest.raises(ConcurrencyError) as refused:
        await notes.update_note(databases["notes"], note.id, 1, "lost update")
    assert (refused.value.expected, refused.value.actual) == (1, 2)
    assert (await notes.get_note(databases["notes"], note.id)).content == "second"
    assert [n.id for n in await notes.list_notes(databases["notes"], "u-1")] == [note.id]
    with pytest.raises(NotFound):
        await notes.update_note(databases["notes"], "missing", 1, "x")


async def test_a_stale_profile_update_is_refused(databases: dict[str, Database]) -> None:
    await user.create_profile(databases["user"], "u-1", "Ada")
    updated = await user.update_profile(
        databases["user"], "u-1", 1, display_name="Ada L", bio="maths"
    )
    assert updated.version == 2
    with pytest.raises(ConcurrencyError):
        await user.update_profile(databases["user"], "u-1", 1, display_name="x", bio="y")
    assert await user.get_profile(databases["user"], "u-1") == updated


async def test_every_service_audits_into_its_own_append_only_log(
    databases: dict[str, Database],
) -> None:
    account = await auth.register_user(databases["auth"], "ada@example.com", "pw")
    await user.create_profile(databases["user"], account.id, "Ada")
    await notes.create_note(databases["notes"], account.id, "hello")
    for database in databases.values():
        async with database.connect() as connection:
            count = (await connection.execute(text("SELECT COUNT(*) FROM audit_log"))).scalar()
        assert count == 1
        with pytest.raises(AppendOnlyViolation):
            async with database.transaction() as connection:
                await connection.execute(text("DELETE FROM audit_log"))
