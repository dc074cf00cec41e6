"""Swapping a rebuilt read model in, one strategy per backend.

Readers must never see an empty or half-built model, so the shadow tables
(``<table>__rebuild``) replace the live ones in one atomic step:

* PostgreSQL and SQLite have transactional DDL: the renames, the drop of the old
  tables and the checkpoint move commit together. Readers see the old tables
  until that commit and the new ones after it (PostgreSQL queues them behind
  the rename's lock for the instant it is held; SQLite's WAL readers keep their
  snapshot).
* MariaDB commits implicitly around DDL, but ``RENAME TABLE a TO a_old, b TO a``
  renames all pairs atomically. The live checkpoint is frozen (status
  ``swapping``) across the rename and moved right after it.

Index names are database-wide on PostgreSQL and SQLite, so there the shadow's
indexes carry the suffix too and get their real names back after the swap.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.projections.definition import SHADOW_SUFFIX
from tidings.storage.capabilities import Backend

OLD_SUFFIX = "__old"


class SwapStrategy(abc.ABC):
    renames_indexes: bool
    """Whether shadow indexes need their own names (database-wide index namespace)."""
    atomic_with_checkpoint: bool
    """Whether the renames commit in the same transaction as the checkpoint move."""

    @abc.abstractmethod
    async def swap(
        self, connection: AsyncConnection, live: Mapping[str, Table], shadows: Mapping[str, Table]
    ) -> None:
        """Put each shadow table in the place of its live table.

        Where the swap commits with the checkpoint it also drops the old tables;
        otherwise they stay as ``<table>__old`` until :meth:`drop_old`.
        """

    async def drop_if_exists(self, connection: AsyncConnection, table: Table) -> None:
        await connection.run_sync(lambda sync: table.drop(sync, checkfirst=True))

    async def drop_old(self, connection: AsyncConnection, name: str) -> None:
        """Drop ``<name>__old`` if an interrupted swap left it."""
        quote = connection.dialect.identifier_preparer.quote
        await connection.execute(text(f"DROP TABLE IF EXISTS {quote(name + OLD_SUFFIX)}"))

    async def create(self, connection: AsyncConnection, table: Table) -> None:
        await connection.run_sync(lambda sync: table.create(sync))


class PostgresSwap(SwapStrategy):
    renames_indexes = True
    atomic_with_checkpoint = True

    async def swap(
        self, connection: AsyncConnection, live: Mapping[str, Table], shadows: Mapping[str, Table]
    ) -> None:
        q = connection.dialect.identifier_preparer.quote
        for name, shadow in shadows.items():
            old = f"{name}{OLD_SUFFIX}"
            await connection.execute(text(f"ALTER TABLE {q(name)} RENAME TO {q(old)}"))
            await connection.execute(text(f"ALTER TABLE {q(shadow.name)} RENAME TO {q(name)}"))
            await connection.execute(text(f"DROP TABLE {q(old)}"))
        for name in shadows:
            result = await connection.execute(
                text(
                    "SELECT indexname FROM pg_indexes"
                    " WHERE schemaname = current_schema() AND tablename = :table"
                ),
                {"table": name},
            )
            for (index,) in result.all():
                if SHADOW_SUFFIX in index:
                    # Renaming the index also renames the constraint it backs (the primary key).
                    restored = index.replace(SHADOW_SUFFIX, "")
                    await connection.execute(
                        text(f"ALTER INDEX {q(index)} RENAME TO {q(restored)}")
                    )


class SQLiteSwap(SwapStrategy):
    renames_indexes = True
    atomic_with_checkpoint = True

    async def swap(
        self, connection: AsyncConnection, live: Mapping[str, Table], shadows: Mapping[str, Table]
    ) -> None:
        q = connection.dialect.identifier_preparer.quote
        for name, shadow in shadows.items():
            old = f"{name}{OLD_SUFFIX}"
            await connection.execute(text(f"ALTER TABLE {q(name)} RENAME TO {q(old)}"))
            await connection.execute(text(f"ALTER TABLE {q(shadow.name)} RENAME TO {q(name)}"))
            await connection.execute(text(f"DROP TABLE {q(old)}"))
            # SQLite cannot rename an index: drop the shadow's and build the real one.
            for index in shadow.indexes:
                await connection.execute(text(f"DROP INDEX IF EXISTS {q(str(index.name))}"))

            def create_indexes(sync: Connection, table: Table = live[name]) -> None:
                for index in table.indexes:
                    index.create(sync)

            await connection.run_sync(create_indexes)


class MariaDBSwap(SwapStrategy):
    renames_indexes = False
    atomic_with_checkpoint = False

    async def swap(
        self, connection: AsyncConnection, live: Mapping[str, Table], shadows: Mapping[str, Table]
    ) -> None:
        q = connection.dialect.identifier_preparer.quote
        pairs: list[str] = []
        for name, shadow in shadows.items():
            pairs.append(f"{q(name)} TO {q(name + OLD_SUFFIX)}")
            pairs.append(f"{q(shadow.name)} TO {q(name)}")
        # One RENAME TABLE statement swaps every pair atomically: no reader ever finds
        # a read-model table missing or meets a mix of old and new tables.
        await connection.execute(text("RENAME TABLE " + ", ".join(pairs)))
        # The old tables are dropped by the caller once the checkpoint has moved.


STRATEGIES: dict[Backend, SwapStrategy] = {
    Backend.POSTGRESQL: PostgresSwap(),
    Backend.SQLITE: SQLiteSwap(),
    Backend.MARIADB: MariaDBSwap(),
}
