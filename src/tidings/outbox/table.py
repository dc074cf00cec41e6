"""The outbox table.

Its first columns are those of Debezium's outbox event router, so a team on Kafka
can point Debezium at it instead of running our relay:

==============  ===============================================================
Debezium        here
==============  ===============================================================
``id``          ``id``: the message id (a UUID as text), unique
``aggregatetype``  ``aggregatetype``: routes to the topic ``outbox.event.<type>``
``aggregateid`` ``aggregateid``: becomes the Kafka message key
``type``        ``type``: the message type name
``payload``     ``payload``: the whole CloudEvents JSON envelope, as text
==============  ===============================================================

Ours: ``seq`` is the primary key, an auto-increment giving the global insertion
order (SQLite only auto-increments an ``INTEGER PRIMARY KEY``, hence the key is
``seq`` and ``id`` is merely unique); ``topic`` and ``headers`` are what our relay
publishes with; ``published_at`` stays NULL until the broker confirmed the row.
Debezium ignores columns it is not told about.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, String, Table, Text, text
from sqlalchemy.dialects import mysql

from tidings.storage.library import library_metadata
from tidings.storage.types import BigIntId, UTCDateTime

# MariaDB's TEXT stops at 64 KiB; an envelope may be bigger.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

_UNPUBLISHED = text("published_at IS NULL")

outbox = Table(
    "outbox",
    library_metadata,
    Column("seq", BigIntId, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("aggregatetype", String(255), nullable=False),
    Column("aggregateid", String(255), nullable=False),
    Column("type", String(255), nullable=False),
    Column("payload", LongText, nullable=False),
    Column("topic", String(255), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    # The relay's claim ("oldest unpublished rows in seq order") and its order check
    # ("unpublished rows below seq n") must read only the unpublished rows, in seq
    # order, however many published rows the retention keeps. PostgreSQL and SQLite: a
    # partial index on seq of the unpublished rows. MariaDB has no partial indexes;
    # (published_at, seq) walks the NULL group in seq order.
    Index(
        "ix_outbox_unpublished",
        "seq",
        postgresql_where=_UNPUBLISHED,
        sqlite_where=_UNPUBLISHED,
        # ddl_if documents a tuple of dialect names; its annotation says str.
    ).ddl_if(dialect=("postgresql", "sqlite")),  # type: ignore[arg-type]
    Index("ix_outbox_unpublished_at", "published_at", "seq").ddl_if(
        dialect=("mysql", "mariadb")  # type: ignore[arg-type]
    ),
)

#: The PostgreSQL channel :func:`tidings.outbox.add` notifies (per database, so one name).
NOTIFY_CHANNEL = "tidings_outbox"
