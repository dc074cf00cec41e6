"""Choreography: services reacting to each other's events, with no orchestrator.

A service handles an event (through its inbox consumer) and emits its own
reaction through its outbox with :func:`follow_up`, which keeps the flow's
correlation id and names the event it reacts to as causation id. Every message
of one business flow therefore shares one correlation id across services, and
:func:`correlated_flow` reassembles the flow from each service's own tables:
what each outbox sent, what each inbox applied, and what each orchestrator's
saga did, in time order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from tidings.inbox.tables import inbox
from tidings.messages import Envelope, Message, MessageRegistry
from tidings.outbox import add
from tidings.outbox.table import outbox
from tidings.sagas.tables import saga_instances, saga_steps
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


async def follow_up(
    uow: UnitOfWork,
    registry: MessageRegistry,
    message: Message,
    *,
    caused_by: Envelope,
    aggregate_type: str,
    aggregate_id: str,
    **options: Any,
) -> Envelope:
    """Emit ``message`` as the reaction to ``caused_by``, in ``uow``'s transaction.

    The new message carries ``caused_by``'s correlation id, its id as causation
    id, and its trace context: the flow stays one flow across services.
    """
    return await add(
        uow,
        registry,
        message,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        caused_by=caused_by,
        **options,
    )


@dataclass(frozen=True)
class FlowEntry:
    """One thing that happened in a correlated flow, in one service."""

    at: datetime
    service: str
    action: str
    """``sent`` (outbox), ``applied`` (inbox), or ``saga:<event>`` (a saga's step log)."""
    message_type: str | None
    message_id: str | None
    causation_id: str | None = None
    detail: str = ""


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _like_literal(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def correlated_flow(databases: Iterable[Database], correlation_id: str) -> list[FlowEntry]:
    """Everything each service's database holds about the flow ``correlation_id``.

    Reads each database's ``outbox``, ``inbox``, ``saga_instances`` and
    ``saga_steps`` where they exist (a service without one simply adds nothing).
    Entries come back in time order; clocks of different servers may disagree
    by their skew.
    """
    chosen = list(databases)
    entries: list[FlowEntry] = []
    tables: dict[str, set[str]] = {}
    sent_ids: set[str] = set()
    # The payload is compact JSON (no spaces), so the attribute appears exactly so.
    pattern = "%" + _like_literal(f'"correlationid":{json.dumps(correlation_id)}') + "%"
    for database in chosen:
        async with database.connect() as connection:
            tables[database.service] = await connection.run_sync(_tables)
            if "outbox" not in tables[database.service]:
                continue
            statement = select(
                outbox.c.id, outbox.c.type, outbox.c.payload, outbox.c.created_at
            ).where(outbox.c.payload.like(pattern, escape="\\"))
            for row in (await connection.execute(statement)).all():
                causation = json.loads(row.payload).get("causationid")
                sent_ids.add(row.id)
                entries.append(
                    FlowEntry(row.created_at, database.service, "sent", row.type, row.id, causation)
                )
    for database in chosen:
        names = tables[database.service]
        async with database.connect() as connection:
            if "inbox" in names and sent_ids:
                statement = select(inbox).where(inbox.c.message_id.in_(sorted(sent_ids)))
                for row in (await connection.execute(statement)).all():
                    entries.append(
                        FlowEntry(
                            row.applied_at,
                            database.service,
                            "applied",
                            row.message_type,
                            row.message_id,
                            detail=f"by {row.consumer}",
                        )
                    )
            if "saga_instances" in names and "saga_steps" in names:
                ids = select(saga_instances.c.id).where(
                    saga_instances.c.correlation_id == correlation_id
                )
                statement = (
                    select(saga_steps)
                    .where(saga_steps.c.saga_id.in_(ids))
                    .order_by(saga_steps.c.id)
                )
                for row in (await connection.execute(statement)).all():
                    step = f"{row.step} " if row.step else ""
                    entries.append(
                        FlowEntry(
                            row.occurred_at,
                            database.service,
                            f"saga:{row.event}",
                            row.message_type,
                            row.message_id,
                            detail=f"{step}saga {row.saga_id}".strip(),
                        )
                    )
    entries.sort(key=lambda entry: entry.at)
    return entries
