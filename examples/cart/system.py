"""The cart system: one event-sourced service, ``cart``, whose state is its events."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData

from examples.cart.demo import run_demo
from tidings.system import Service, System

_HERE = Path(__file__).parent

system = System(
    name="cart",
    description="an event-sourced shopping cart with snapshots and upcasting",
    services=(
        Service(
            name="cart",
            metadata=MetaData(),
            migrations=_HERE / "migrations",
            description="carts as event streams: created, items added/removed/changed, abandoned",
            append_only=("audit_log", "events"),
            library_tables=("audit_log", "events", "snapshots"),
        ),
    ),
    demo=run_demo,
)
