"""Reading one side of a check: a service's rows through that service's own Database.

A *source* is ``(service, query)``. The query is a SQLAlchemy statement, SQL text,
or an async function ``(database) -> rows`` for data no single query returns
(an event-sourced service, say). Rows are plain dicts keyed by column label, so
both sides of a check must label their columns alike (``.label("user_id")``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeAlias
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.sql.expression import Executable

from tidings.errors import ConfigurationError
from tidings.storage.database import Database

Row: TypeAlias = dict[str, Any]
RowLoader: TypeAlias = Callable[[Database], Awaitable[Iterable[Mapping[str, Any]]]]
Query: TypeAlias = Executable | str | RowLoader
Source: TypeAlias = tuple[str, Query]
Key: TypeAlias = str | Sequence[str]


def columns(key: Key) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else tuple(key)


def database_for(databases: Mapping[str, Database], service: str) -> Database:
    try:
        return databases[service]
    except KeyError:
        raise ConfigurationError(f"no database given for service {service!r}") from None


async def fetch(databases: Mapping[str, Database], source: Source) -> list[Row]:
    """Every row ``source`` selects, read from its own service's database."""
    service, query = source
    database = database_for(databases, service)
    if isinstance(query, str | Executable):
        statement = text(query) if isinstance(query, str) else query
        async with database.connect() as connection:
            result = await connection.execute(statement)
            return [dict(row._mapping) for row in result]
    return [dict(row) for row in await query(database)]


def normalized(value: Any) -> Any:
    """A comparable form: every number a Decimal, every time aware UTC, UUIDs text.

    Backends return the same value as different types (a SUM is an int on SQLite and
    a Decimal on PostgreSQL; MariaDB and SQLite drop the time zone), which must not
    read as drift.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal):
        return Decimal(value).normalize()
    if isinstance(value, float):
        return Decimal(repr(value)).normalize()
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, UUID):
        return str(value)
    return value


def key_of(row: Row, key: tuple[str, ...], source: Source) -> tuple[str, ...]:
    """The row's key as text, so ``5``, ``Decimal(5)`` and ``"5"`` name the same row."""
    try:
        return tuple(str(normalized(row[name])) for name in key)
    except KeyError as missing:
        raise ConfigurationError(
            f"{source[0]}: the query returns no column {missing} (label the key columns)"
        ) from None


def field_values(row: Row, fields: Sequence[str], source: Source) -> Row:
    try:
        return {name: row[name] for name in fields}
    except KeyError as missing:
        raise ConfigurationError(
            f"{source[0]}: the query returns no column {missing} (label the compared columns)"
        ) from None


def differing(expected: Row, actual: Row) -> list[str]:
    return [name for name in expected if normalized(expected[name]) != normalized(actual[name])]
