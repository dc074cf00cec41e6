"""The consumer side's library tables: ``inbox``, ``inbox_positions`` and ``dead_letters``.

``inbox`` holds one row per (consumer, message id) that a consumer has applied;
its primary key is what makes a redelivered or concurrently delivered message
take effect once. ``inbox_positions`` holds, per consumer and aggregate, the
last aggregate version applied: what keeps a consumer from applying an event
before its predecessor (:mod:`tidings.inbox.ordering`). ``dead_letters`` keeps
every message a consumer gave up on, with the original bytes and headers so it
can be inspected and replayed.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql

from tidings.storage.library import library_metadata
from tidings.storage.types import UTCDateTime

# MariaDB's plain BLOB stops at 64 KiB; a message body may be larger.
MessageBytes = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

MAX_ID_LENGTH = 150
MAX_TYPE_LENGTH = 200

inbox = Table(
    "inbox",
    library_metadata,
    # (consumer, message_id) is the deduplication key: of two transactions that
    # insert it, the second waits for the first and then fails with IntegrityError.
    Column("consumer", String(MAX_ID_LENGTH), primary_key=True),
    Column("message_id", String(MAX_ID_LENGTH), primary_key=True),
    Column("message_type", String(MAX_TYPE_LENGTH), nullable=False),
    # The envelope's ``time``: when the producer committed the change.
    Column("committed_at", UTCDateTime, nullable=True),
    Column("applied_at", UTCDateTime, nullable=False),
    Index("ix_inbox_applied_at", "applied_at"),
)

inbox_positions = Table(
    "inbox_positions",
    library_metadata,
    # One row per (consumer, aggregate). It is written in the transaction of the
    # effect, so the version it holds and the effects applied always agree.
    Column("consumer", String(MAX_ID_LENGTH), primary_key=True),
    # "" for events without an aggregate type: the key columns cannot be NULL.
    Column("aggregate_type", String(MAX_ID_LENGTH), primary_key=True),
    Column("aggregate_id", String(MAX_ID_LENGTH), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    library_metadata,
    Column("id", String(36), primary_key=True),
    Column("consumer", String(MAX_ID_LENGTH), nullable=False),
    # None when the bytes could not be parsed far enough to find an id.
    Column("message_id", String(MAX_ID_LENGTH), nullable=True),
    Column("message_type", String(MAX_TYPE_LENGTH), nullable=True),
    Column("topic", String(255), nullable=True),
    Column("reason", String(40), nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("body", MessageBytes, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Column("replayed_at", UTCDateTime, nullable=True),
    Column("replay_outcome", String(40), nullable=True),
    Index("ix_dead_letters_consumer_failed_at", "consumer", "failed_at"),
    Index("ix_dead_letters_failed_at", "failed_at"),
)
