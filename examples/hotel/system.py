"""The hotel system: the design's hotel booking saga over four services.

bookings orchestrates (and owns the bookings), rooms reserves rooms, payments
charges cards, notifications sends confirmations. Each has its own database and
Alembic history; they talk only through the broker (outbox out, inbox in).
The orchestrator is declared in ``extras["sagas"]`` for ``tidings saga``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData

from examples.hotel.bookings.orchestration import orchestrator
from examples.hotel.bookings.tables import metadata as bookings_metadata
from examples.hotel.demo import run_demo
from examples.hotel.library import MESSAGING_TABLES
from examples.hotel.notifications.tables import metadata as notifications_metadata
from examples.hotel.payments.tables import metadata as payments_metadata
from examples.hotel.rooms.tables import metadata as rooms_metadata
from tidings.sagas.migrations import SAGA_APPEND_ONLY, SAGA_TABLES
from tidings.system import Service, System

_HERE = Path(__file__).parent


def _service(name: str, metadata: MetaData, description: str, *extra: str) -> Service:
    return Service(
        name=name,
        metadata=metadata,
        migrations=_HERE / name / "migrations",
        description=description,
        library_tables=MESSAGING_TABLES + extra,
        append_only=("audit_log", *(table for table in extra if table in SAGA_APPEND_ONLY)),
    )


system = System(
    name="hotel",
    description="a hotel booking saga: validate, reserve, pay, confirm, notify",
    services=(
        _service("bookings", bookings_metadata, "bookings; runs the booking saga", *SAGA_TABLES),
        _service("rooms", rooms_metadata, "room types and reservations"),
        _service("payments", payments_metadata, "card charges and refunds"),
        _service("notifications", notifications_metadata, "booking confirmations sent"),
    ),
    demo=run_demo,
    extras={"sagas": (orchestrator,)},
)
