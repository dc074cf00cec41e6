"""The orchestrator's own tables: one row per saga instance and an append-only step log.

``saga_instances`` holds the whole state as JSON (the pure core reads and
writes it) plus the columns operators and the deadline worker query:
status, correlation id, the steps in flight and the next timer (``deadline_at``).
``saga_steps`` is the timeline: every command sent, reply taken or ignored,
timeout, retry and status change, never updated or deleted.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from tidings.storage.library import library_metadata
from tidings.storage.types import BigIntId, UTCDateTime

saga_instances = Table(
    "saga_instances",
    library_metadata,
    Column("id", String(64), primary_key=True),
    Column("saga_type", String(200), nullable=False),
    Column("saga_version", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("state", JSON, nullable=False),
    Column("correlation_id", String(200), nullable=False),
    Column("current_steps", String(1000), nullable=False, default=""),
    Column("deadline_at", UTCDateTime, nullable=True),
    Column("revision", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    # The deadline worker's query: due timers, earliest first.
    Index("ix_saga_instances_deadline", "deadline_at"),
    Index("ix_saga_instances_status", "status", "updated_at"),
    Index("ix_saga_instances_correlation", "correlation_id"),
)

saga_steps = Table(
    "saga_steps",
    library_metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("saga_id", String(64), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("event", String(50), nullable=False),
    Column("step", String(200), nullable=True),
    Column("kind", String(20), nullable=True),
    Column("attempt", Integer, nullable=True),
    Column("message_type", String(200), nullable=True),
    Column("message_id", String(300), nullable=True),
    Column("detail", JSON, nullable=True),
    Index("ix_saga_steps_saga", "saga_id", "id"),
    # A reply names the command it answers (causation id); this finds its saga and step.
    Index("ix_saga_steps_message", "message_id"),
)
