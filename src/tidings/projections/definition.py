"""What a projection is: a name, the read-model tables it owns, and a handler per event type.

A handler is ``async def handler(ctx: ProjectionContext, event: RecordedEvent) -> None``.
It writes through ``ctx`` and names its tables through :meth:`ProjectionContext.table`,
so the same handler fills the live tables when following and the shadow tables
(``<table>__rebuild``) during a rebuild.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, Table, UniqueConstraint, insert
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import quoted_name

from tidings.eventstore.base import RecordedEvent
from tidings.storage.uow import UnitOfWork

Handler = Callable[["ProjectionContext", RecordedEvent], Awaitable[None]]
Publisher = Callable[..., Awaitable[Any]]
"""``async def publish(uow, message, **options)``: writes one message to the outbox in the
unit of work; :func:`tidings.projections.outbox_publisher` makes one."""

SHADOW_SUFFIX = "__rebuild"


@dataclass(frozen=True)
class Projection:
    """A read model kept current by applying events.

    ``tables`` are the read-model tables the projection alone writes (declared in
    the service's metadata and created by its migrations). ``service`` names the
    service whose database holds them; it may stay ``None`` in a one-service system.
    Events of types without a handler are skipped (the checkpoint still moves).
    """

    name: str
    tables: tuple[Table, ...]
    handlers: Mapping[str, Handler]
    service: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if SHADOW_SUFFIX in self.name:
            raise ValueError(f"projection name {self.name!r} may not contain {SHADOW_SUFFIX!r}")

    def handler_for(self, event_type: str) -> Handler | None:
        return self.handlers.get(event_type)

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(table.name for table in self.tables)


def projection(
    name: str,
    tables: Iterable[Table],
    *,
    service: str | None = None,
    description: str = "",
) -> ProjectionBuilder:
    """Declare a projection with decorators::

    post_list = projection("post_list", [post_list_table])

    @post_list.on("PostCreated")
    async def created(ctx, event): ...

    POST_LIST = post_list.build()
    """
    return ProjectionBuilder(name, tuple(tables), service, description)


@dataclass
class ProjectionBuilder:
    name: str
    tables: tuple[Table, ...]
    service: str | None
    description: str
    handlers: dict[str, Handler] = field(default_factory=dict)

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self.handlers[event_type] = handler
            return handler

        return register

    def build(self) -> Projection:
        return Projection(
            self.name, self.tables, dict(self.handlers), self.service, self.description
        )


class ProjectionContext:
    """What a handler gets: the transaction, the tables to write, and the replay flag.

    ``replaying`` is true while a rebuild replays history into shadow tables:
    handlers must then cause no side effects beyond their read model;
    :meth:`publish` already skips itself. Rows given to :meth:`insert` are sent
    in one ``executemany`` per table (before the next :meth:`execute` and before
    the checkpoint), which keeps order and makes catch-up fast.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        tables: Mapping[str, Table],
        *,
        replaying: bool = False,
        publisher: Publisher | None = None,
    ) -> None:
        self.uow = uow
        self.replaying = replaying
        self._tables = dict(tables)
        self._publisher = publisher
        self._pending: dict[str, tuple[Table, list[dict[str, Any]]]] = {}

    @property
    def connection(self) -> AsyncConnection:
        return self.uow.connection

    def table(self, table: Table | str) -> Table:
        """The table to write for the read-model ``table`` (live, or its shadow in a rebuild)."""
        if isinstance(table, Table) and any(table is t for t in self._tables.values()):
            return table  # already a target (the handler resolved it before)
        name = table if isinstance(table, str) else table.name
        try:
            return self._tables[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a table of this projection") from None

    async def execute(
        self, statement: Executable, parameters: Any = None
    ) -> CursorResult[Any] | Result[Any]:
        await self.flush()
        return await self.uow.execute(statement, parameters)

    def insert(self, table: Table | str, row: Mapping[str, Any]) -> None:
        """Queue one row for insertion into (the target of) ``table``.

        Rows queued for one table are sent together, so they must have the same keys.
        """
        target = self.table(table)
        self._pending.setdefault(target.name, (target, []))[1].append(dict(row))

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for target, rows in pending.values():
            await self.uow.execute(insert(target), rows)

    async def publish(self, message: Any, **options: Any) -> bool:
        """Hand ``message`` to the outbox in this transaction, unless replaying.

        ``options`` go to the publisher (for the outbox: ``aggregate_type``,
        ``aggregate_id``, ...). Returns whether it was published; a context made
        without a publisher raises ``RuntimeError`` rather than drop the message.
        """
        if self.replaying:
            return False
        if self._publisher is None:
            raise RuntimeError("this projection runner was given no publisher")
        await self.flush()
        await self._publisher(self.uow, message, **options)
        return True


def live_tables(projection: Projection) -> dict[str, Table]:
    return {table.name: table for table in projection.tables}


def shadow_name(name: str) -> str:
    return f"{name}{SHADOW_SUFFIX}"


def shadow_tables(projection: Projection, *, rename_indexes: bool = True) -> dict[str, Table]:
    """Copies of the read-model tables named ``<table>__rebuild``.

    With ``rename_indexes`` (backends whose index names are database-wide) their
    named indexes and unique constraints get the suffix too; the swap restores them.
    """
    metadata = MetaData()
    shadows: dict[str, Table] = {}
    for table in projection.tables:
        copy = table.to_metadata(metadata, name=shadow_name(table.name))
        if rename_indexes:
            for index in copy.indexes:
                if index.name is not None:
                    index.name = quoted_name(shadow_name(str(index.name)), None)
            for constraint in copy.constraints:
                if isinstance(constraint, UniqueConstraint) and isinstance(constraint.name, str):
                    constraint.name = quoted_name(shadow_name(constraint.name), None)
        shadows[table.name] = copy
    return shadows
