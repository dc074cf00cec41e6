"""The hotel demo: four bookings that succeed, retry, compensate and get refused.

Runs embedded by default (each service's SQLite file, the in-process broker);
with ``<SERVICE>_DATABASE_URL`` and ``TIDINGS_BROKER_URL`` set it runs the same
flow on real servers.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from examples.hotel.bookings.operations import get_booking, place_booking
from examples.hotel.payments.handlers import attempts_of
from examples.hotel.runtime import SERVICES, HotelRuntime, migrate_all
from tidings.brokers.factory import broker_from_url
from tidings.sagas import FINAL_STATUSES, SagaDetail, get_saga
from tidings.sagas.choreography import correlated_flow
from tidings.settings import Settings
from tidings.storage.database import Database

if TYPE_CHECKING:
    from tidings.brokers.base import Broker
    from tidings.system import System

BOOKINGS = (
    ("Ada", "double", 2, "4242-ok", "succeeds"),
    ("Grace", "suite", 1, "flaky", "2 gateway failures, retried"),
    ("Alan", "double", 3, "declined", "declined: room released"),
    ("Edsger", "penthouse", 1, "4242-ok", "no such room: refused"),
)
WAIT_SECONDS = 60.0


def broker_for(system: System, settings: Settings) -> Broker:
    """The broker ``TIDINGS_BROKER_URL`` names (``memory://`` by default)."""
    return broker_from_url(settings.broker_url, namespace=system.name)


async def run_demo(system: System, settings: Settings) -> None:
    console = Console(highlight=False)
    revisions = await migrate_all(system, settings)
    migrated = Table(title="Each service migrates its own database")
    for column in ("service", "database", "revision"):
        migrated.add_column(column)
    databases = {name: system.database(name, settings) for name in SERVICES}
    for name in SERVICES:
        migrated.add_row(name, databases[name].safe_url, revisions[name] or "-")
    console.print(migrated)
    try:
        async with broker_for(system, settings) as broker, HotelRuntime(databases, broker) as hotel:
            ids = [
                await place_booking(
                    hotel.engine, guest=guest, room_type=kind, nights=nights, card=card
                )
                for guest, kind, nights, card, _story in BOOKINGS
            ]
            details = await _wait_for_all(databases["bookings"], ids, console)
            await _show(console, databases, ids, details)
    finally:
        for database in databases.values():
            await database.close()


async def _wait_for_all(database: Database, ids: list[str], console: Console) -> list[SagaDetail]:
    started = time.monotonic()
    while True:
        details = [await get_saga(database, saga_id) for saga_id in ids]
        if all(detail.status in FINAL_STATUSES for detail in details):
            console.print(f"all {len(ids)} sagas finished in {time.monotonic() - started:.2f}s")
            return details
        if time.monotonic() - started > WAIT_SECONDS:
            console.print("[red]some sagas did not finish in time[/red]")
            return details
        await asyncio.sleep(0.05)


async def _show(
    console: Console, databases: dict[str, Database], ids: list[str], details: list[SagaDetail]
) -> None:
    table = Table(title="Bookings (bookings service) and their sagas")
    for column in ("guest", "room", "card", "expected", "booking", "saga", "tries"):
        table.add_column(column)
    for (guest, kind, _nights, card, story), saga_id, detail in zip(
        BOOKINGS, ids, details, strict=True
    ):
        booking = await get_booking(databases["bookings"], saga_id)
        attempts = await attempts_of(databases["payments"], saga_id)
        table.add_row(
            guest,
            f"{kind} {booking_room(detail)}",
            card,
            story,
            booking["status"],
            detail.status.value,
            str(attempts),
        )
    console.print(table)
    for index in (1, 2):
        _timeline(console, BOOKINGS[index][0], details[index])
    declined = ids[2]
    flow = await correlated_flow(databases.values(), declined)
    across = Table(title=f"One correlated flow across services (Alan's booking {declined[:8]})")
    for column in ("service", "what", "message"):
        across.add_column(column)
    for entry in flow:
        if entry.action.startswith("saga:") and entry.message_type is not None:
            continue  # the saga's own view of each message; the outbox/inbox rows show it
        across.add_row(entry.service, entry.action, entry.message_type or entry.detail)
    console.print(across)
    console.print("Inspect any saga with: tidings saga show <id> --system hotel")


def booking_room(detail: SagaDetail) -> str:
    room = detail.data.get("room_number")
    return "" if room is None else f"#{room}"


def _timeline(console: Console, guest: str, detail: SagaDetail) -> None:
    table = Table(title=f"{guest}'s saga {detail.summary.id[:8]}: {detail.status.value}")
    for column in ("event", "step", "try", "message"):
        table.add_column(column)
    for record in detail.timeline:
        table.add_row(
            record.event,
            record.step or "",
            "" if record.attempt is None else str(record.attempt),
            record.message_type or "",
        )
    console.print(table)
