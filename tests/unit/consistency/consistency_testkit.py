"""A four-service system declared for the consistency tests, and its seed data.

users owns users; orders replicates them as customers and refers to inventory's
reservations; analytics keeps sales totals that must match orders' confirmed ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)

from tidings.consistency import (
    Check,
    references_exist,
    replica_matches,
    totals_match,
)
from tidings.inbox.tables import inbox
from tidings.storage.database import Database
from tidings.system import Service, System, register

users_metadata = MetaData()
users = Table(
    "users",
    users_metadata,
    Column("id", String(40), primary_key=True),
    Column("email", String(200), nullable=False),
    Column("name", String(200), nullable=False),
)
orders_metadata = MetaData()
customers = Table(
    "customers",
    orders_metadata,
    Column("user_id", String(40), primary_key=True),
    Column("email", String(200), nullable=False),
    Column("name", String(200), nullable=False),
)
orders = Table(
    "orders",
    orders_metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("reservation_id", String(40), nullable=True),
    Column("status", String(20), nullable=False),
    Column("total_cents", Integer, nullable=False),
)
inventory_metadata = MetaData()
reservations = Table(
    "reservations",
    inventory_metadata,
    Column("id", String(40), primary_key=True),
    Column("quantity", Integer, nullable=False),
)
analytics_metadata = MetaData()
# Numeric, so PostgreSQL and MariaDB hand back Decimals where orders' SUM is an int.
sales = Table(
    "sales",
    analytics_metadata,
    Column("day", String(10), primary_key=True),
    Column("orders", Integer, nullable=False),
    Column("revenue_cents", Numeric(14, 2), nullable=False),
)

METADATA = {
    "users": users_metadata,
    "orders": orders_metadata,
    "inventory": inventory_metadata,
    "analytics": analytics_metadata,
}
CONSUMERS = ("orders", "analytics")


def checks() -> list[Check]:
    return [
        replica_matches(
            name="customer-replica",
            owner=("users", select(users.c.id.label("user_id"), users.c.email, users.c.name)),
            replica=("orders", select(customers)),
            key="user_id",
            fields=["email", "name"],
        ),
        totals_match(
            name="sales-totals",
            expected=(
                "orders",
                select(
                    func.count().label("orders"), func.sum(orders.c.total_cents).label("revenue")
                ).where(orders.c.status == "confirmed"),
            ),
            actual=(
                "analytics",
                "SELECT SUM(orders) AS orders, SUM(revenue_cents) AS revenue FROM sales",
            ),
            fields=["orders", "revenue"],
        ),
        references_exist(
            name="order-reservation",
            referencing=("orders", select(orders.c.id, orders.c.reservation_id)),
            referenced=("inventory", select(reservations.c.id)),
            key="reservation_id",
            referenced_key="id",
            id="id",
        ),
    ]


def build_system(name: str | None = None) -> System:
    """A uniquely named system, registered so the CLI finds it."""
    services = tuple(
        Service(
            name=service,
            metadata=metadata,
            migrations=Path("/nonexistent"),
            library_tables=("inbox",) if service in CONSUMERS else (),
        )
        for service, metadata in METADATA.items()
    )
    system = System(
        name=name or f"consistency_{uuid.uuid4().hex[:8]}",
        services=services,
        extras={"consistency": checks},
    )
    return register(system)


async def create_tables(databases: Mapping[str, Database]) -> None:
    for service, metadata in METADATA.items():
        async with databases[service].transaction() as connection:
            await connection.run_sync(metadata.create_all)
            if service in CONSUMERS:
                await connection.run_sync(inbox.create)


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

#: (consumer service, message type, delay in ms) of the inbox rows seeded.
DELAYS = [
    ("orders", "users.UserRegistered", 10),
    ("orders", "users.UserRegistered", 30),
    ("analytics", "orders.OrderConfirmed", 50),
    ("analytics", "orders.OrderConfirmed", 70),
    ("orders", "orders.OrderConfirmed", 200),  # the same type consumed in a second service
]


async def seed(databases: Mapping[str, Database]) -> None:
    """Data on which every service agrees."""
    people = [
        {"id": "u1", "email": "ada@example.com", "name": "Ada"},
        {"id": "u2", "email": "bob@example.com", "name": "Bob"},
    ]
    async with databases["users"].transaction() as connection:
        await connection.execute(insert(users), people)
    async with databases["orders"].transaction() as connection:
        await connection.execute(
            insert(customers), [{**person, "user_id": person.pop("id")} for person in people]
        )
        await connection.execute(
            insert(orders),
            [
                {
                    "id": "o1",
                    "user_id": "u1",
                    "reservation_id": "r1",
                    "status": "confirmed",
                    "total_cents": 1250,
                },
                {
                    "id": "o2",
                    "user_id": "u2",
                    "reservation_id": "r2",
                    "status": "confirmed",
                    "total_cents": 700,
                },
                {
                    "id": "o3",
                    "user_id": "u2",
                    "reservation_id": None,
                    "status": "pending",
                    "total_cents": 300,
                },
            ],
        )
    async with databases["inventory"].transaction() as connection:
        await connection.execute(
            insert(reservations), [{"id": "r1", "quantity": 2}, {"id": "r2", "quantity": 1}]
        )
    async with databases["analytics"].transaction() as connection:
        await connection.execute(
            insert(sales),
            [
                {"day": "2026-01-01", "orders": 1, "revenue_cents": 1250},
                {"day": "2026-01-02", "orders": 1, "revenue_cents": 700},
            ],
        )
    for consumer in CONSUMERS:
        rows = [
            {
                "consumer": f"{service}-consumer",
                "message_id": f"m{number}",
                "message_type": message_type,
                "committed_at": NOW,
                "applied_at": NOW + timedelta(milliseconds=delay_ms),
            }
            for number, (service, message_type, delay_ms) in enumerate(DELAYS)
            if service == consumer
        ]
        async with databases[consumer].transaction() as connection:
            await connection.execute(insert(inbox), rows)


async def drop_customer(databases: Mapping[str, Database], user_id: str) -> None:
    async with databases["orders"].transaction() as connection:
        await connection.execute(delete(customers).where(customers.c.user_id == user_id))


async def rename_customer(databases: Mapping[str, Database], user_id: str, email: str) -> None:
    async with databases["orders"].transaction() as connection:
        await connection.execute(
            update(customers).where(customers.c.user_id == user_id).values(email=email)
        )


async def add_customer(databases: Mapping[str, Database], user_id: str) -> None:
    async with databases["orders"].transaction() as connection:
        await connection.execute(
            insert(customers).values(user_id=user_id, email=f"{user_id}@example.com", name="?")
        )


async def change_sales(databases: Mapping[str, Database], day: str, revenue_cents: int) -> None:
    async with databases["analytics"].transaction() as connection:
        await connection.execute(
            update(sales).where(sales.c.day == day).values(revenue_cents=revenue_cents)
        )


async def drop_reservation(databases: Mapping[str, Database], reservation_id: str) -> None:
    async with databases["inventory"].transaction() as connection:
        await connection.execute(delete(reservations).where(reservations.c.id == reservation_id))
