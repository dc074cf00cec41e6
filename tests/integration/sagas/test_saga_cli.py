"""``tidings saga list|show|retry`` on the hotel system's embedded databases."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from saga_kit import Clock
from sqlalchemy import select, update
from typer.testing import CliRunner

from examples.hotel.bookings.operations import place_booking
from examples.hotel.bookings.orchestration import orchestrator
from examples.hotel.system import system
from tidings.cli import app
from tidings.migrations import runner
from tidings.outbox import outbox
from tidings.sagas import SagaStatus, get_saga
from tidings.sagas.tables import saga_steps
from tidings.settings import load_settings
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work

REPLIES = {
    "rooms.ValidateAvailability": ("rooms.AvailabilityConfirmed", {"free_rooms": 3}),
    "rooms.ReserveRoom": ("rooms.RoomReserved", {"room_number": 7}),
    "payments.ProcessPayment": ("payments.PaymentDeclined", {"reason": "no"}),
}


async def stuck_saga() -> str:
    """A booking whose room release never gets an answer: compensation_failed."""
    clock = Clock()
    async with system.database("bookings", load_settings()) as database:
        await runner.upgrade(database, system.service("bookings"))
        engine = orchestrator.engine(database, clock=clock)
        booking = await place_booking(
            engine, guest="Ada", room_type="double", nights=1, card="declined"
        )
        for _ in range(3):
            async with database.connect() as connection:
                last = (
                    await connection.execute(
                        select(saga_steps.c.message_id, saga_steps.c.message_type)
                        .where(saga_steps.c.event == "command_sent")
                        .order_by(saga_steps.c.id.desc())
                        .limit(1)
                    )
                ).one()
            reply_type, data = REPLIES[last.message_type]
            async with unit_of_work(database) as uow:
                await engine.handle_reply_message(
                    uow,
                    reply_type=reply_type,
                    data={"booking_id": booking, **data},
                    message_id=f"reply-{last.message_id}",
                    causation_id=last.message_id,
                )
        while (await get_saga(database, booking)).status is not SagaStatus.COMPENSATION_FAILED:
            await relay_everything(database)
            clock.now += 11
            assert await engine.fire_due() == 1
    return booking


async def relay_everything(database: Database) -> None:
    """Mark the outbox published, as the relay would: the deadlines of commands still in
    the outbox wait for them, those of published ones run."""
    async with unit_of_work(database) as uow:
        await uow.execute(
            update(outbox).where(outbox.c.published_at.is_(None)).values(published_at=utcnow())
        )


async def release_commands() -> int:
    database = system.database("bookings", load_settings())
    async with database, database.connect() as connection:
        rows = await connection.execute(
            select(outbox.c.id).where(outbox.c.type == "rooms.ReleaseRoom")
        )
        return len(rows.all())


def test_list_show_and_retry_a_stuck_saga(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TIDINGS_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.delenv("BOOKINGS_DATABASE_URL", raising=False)
    booking = asyncio.run(stuck_saga())
    cli = CliRunner()

    listed = cli.invoke(
        app, ["saga", "list", "--system", "hotel", "--status", "compensation_failed", "--json"]
    )
    assert listed.exit_code == 0, listed.output
    assert [row["id"] for row in json.loads(listed.output)] == [booking]

    shown = cli.invoke(app, ["saga", "show", booking, "--system", "hotel"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "compensation_failed" in shown.output
    assert "dead_lettered" in shown.output

    before = asyncio.run(release_commands())
    retried = cli.invoke(app, ["saga", "retry", booking, "--system", "hotel", "--by", "ops"])
    assert retried.exit_code == 0, retried.output
    assert "compensating" in retried.output
    assert asyncio.run(release_commands()) == before + 1

    again = cli.invoke(app, ["saga", "retry", booking, "--system", "hotel"])
    assert again.exit_code == 1
    missing = cli.invoke(app, ["saga", "show", "no-such-saga", "--system", "hotel"])
    assert missing.exit_code != 0


PAST_PIVOT = {
    "rooms.ValidateAvailability": ("rooms.AvailabilityConfirmed", {"free_rooms": 3}),
    "rooms.ReserveRoom": ("rooms.RoomReserved", {"room_number": 7}),
    "payments.ProcessPayment": ("payments.PaymentProcessed", {"payment_id": "p-1"}),
}


async def retrying_saga() -> str:
    """A booking past its pivot whose confirmation never gets an answer: retried."""
    clock = Clock()
    async with system.database("bookings", load_settings()) as database:
        await runner.upgrade(database, system.service("bookings"))
        engine = orchestrator.engine(database, clock=clock)
        booking = await place_booking(engine, guest="Ada", room_type="double", nights=1, card="x")
        for _ in range(3):
            async with database.connect() as connection:
                last = (
                    await connection.execute(
                        select(saga_steps.c.message_id, saga_steps.c.message_type)
                        .where(saga_steps.c.event == "command_sent")
                        .order_by(saga_steps.c.id.desc())
                        .limit(1)
                    )
                ).one()
            reply_type, data = PAST_PIVOT[last.message_type]
            async with unit_of_work(database) as uow:
                await engine.handle_reply_message(
                    uow,
                    reply_type=reply_type,
                    data={"booking_id": booking, **data},
                    message_id=f"reply-{last.message_id}",
                    causation_id=last.message_id,
                )
        for _ in range(2):
            await relay_everything(database)
            clock.now += 11
            assert await engine.fire_due() == 1
    return booking


def test_show_marks_a_step_being_retried_after_the_pivot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDINGS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TIDINGS_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.delenv("BOOKINGS_DATABASE_URL", raising=False)
    booking = asyncio.run(retrying_saga())
    cli = CliRunner()
    shown = cli.invoke(app, ["saga", "show", booking, "--system", "hotel"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "past its pivot" in shown.output
    assert "retrying (running)" in shown.output
    as_json = cli.invoke(app, ["saga", "show", booking, "--system", "hotel", "--json"])
    assert as_json.exit_code == 0, as_json.output
    detail = json.loads(as_json.output)
    assert detail["summary"]["status"] == "running"
    assert detail["past_pivot"] is True
    confirm = detail["steps"]["confirm_booking"]
    assert (confirm["role"], confirm["retrying"], confirm["sends"]) == ("retriable", True, 3)
    assert detail["steps"]["process_payment"]["role"] == "pivot"
