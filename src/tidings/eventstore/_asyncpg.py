"""Reads straight through asyncpg, for the hot paths (catch-up, aggregate loads).

SQLAlchemy's result processing costs about as much as the query on a page of
events; these reads skip it and decode the two JSON columns themselves. Errors are
mapped to the tidings tree here, since they never pass through SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from tidings import errors
from tidings.eventstore.base import RecordedEvent

COLUMNS = (
    "position, event_id, stream_id, stream_version, type, schema_version, "
    "data::text, metadata::text, recorded_at"
)

_BY_SQLSTATE_CLASS: dict[str, type[errors.StorageError]] = {
    "23": errors.IntegrityError,
    "22": errors.DataError,
    "42": errors.ProgrammingError,
    "0A": errors.NotSupportedError,
    "08": errors.OperationalError,
    "40": errors.OperationalError,
    "53": errors.OperationalError,
    "55": errors.OperationalError,
    "57": errors.OperationalError,
}


def map_driver_error(error: Exception, context: str) -> Exception:
    """The tidings error for an asyncpg exception (others are returned unchanged)."""
    sqlstate = getattr(error, "sqlstate", None)
    text = f"{context}: {str(error).strip().splitlines()[0] if str(error).strip() else error!r}"
    if isinstance(sqlstate, str):
        return _BY_SQLSTATE_CLASS.get(sqlstate[:2], errors.DatabaseError)(text)
    if isinstance(error, OSError | ConnectionError | TimeoutError):
        return errors.OperationalError(text)
    if type(error).__module__.startswith("asyncpg"):
        return errors.InterfaceError(text)
    return error


async def fetch_records(
    connection: AsyncConnection, sql: str, arguments: Sequence[Any], context: str
) -> list[Any]:
    """Run ``sql`` on the connection's asyncpg driver, inside whatever transaction
    the connection is in; asyncpg records back."""
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        return list(await driver.fetch(sql, *arguments))
    except Exception as error:
        raise map_driver_error(error, context) from error


async def fetch(
    connection: AsyncConnection, sql: str, arguments: Sequence[Any], context: str
) -> list[RecordedEvent]:
    """Run ``sql`` (selecting :data:`COLUMNS`) and decode the events."""
    records = await fetch_records(connection, sql, arguments, context)
    loads = json.loads
    new = object.__new__
    events: list[RecordedEvent] = []
    for record in records:
        # A frozen dataclass's __init__ sets each field through object.__setattr__,
        # which costs more than the JSON decoding on a catch-up; filling __dict__
        # builds the same (still frozen) object at half the cost.
        event = new(RecordedEvent)
        event.__dict__.update(
            event_id=record[1],
            stream_id=record[2],
            stream_version=record[3],
            position=record[0],
            type=record[4],
            schema_version=record[5],
            data=loads(record[6]),
            # Most events carry no metadata: skip the decoder for the common case.
            metadata={} if record[7] == "{}" else loads(record[7]),
            recorded_at=record[8],
        )
        events.append(event)
    return events
