"""Rebuild a projection from position 0 beside the live read model, then swap it in.

Readers keep reading the live tables the whole time; the shadow copy
(``<table>__rebuild``) is filled by the same handlers with ``ctx.replaying``
set, so they publish nothing. The swap happens only once the shadow has
reached the live checkpoint, so the model readers see never goes back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Table, inspect
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.errors import ConcurrencyError
from tidings.eventstore.base import EventStore
from tidings.projections.applier import BatchApplier
from tidings.projections.checkpoints import (
    Status,
    advance,
    delete_checkpoint,
    ensure_checkpoint,
    read_checkpoint,
    reset_checkpoint,
    set_status,
)
from tidings.projections.definition import Projection, live_tables, shadow_name, shadow_tables
from tidings.projections.swap import STRATEGIES
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RebuildResult:
    projection: str
    position: int
    """The checkpoint the swapped-in model starts from."""
    events: int
    """Events replayed into the shadow tables."""
    attempts: int


class _ShadowBehind(Exception):
    pass


async def rebuild(
    database: Database,
    store: EventStore,
    projection: Projection,
    *,
    batch_size: int = 500,
    timeout: float = 300.0,
    retry_interval: float = 0.05,
) -> RebuildResult:
    """Replay every event into fresh shadow tables and swap them in for the live ones.

    A live runner may keep running meanwhile: the swap waits until the shadow has
    reached the live checkpoint, and the runner continues from the swapped-in one.
    Raises :class:`~tidings.errors.ConcurrencyError` if the shadow never catches
    the live copy within ``timeout`` seconds (the shadow tables stay for a retry).
    """
    strategy = STRATEGIES[database.backend]
    live = live_tables(projection)
    shadows = shadow_tables(projection, rename_indexes=strategy.renames_indexes)
    shadow_checkpoint = shadow_name(projection.name)
    await ensure_checkpoint(database, projection.name)
    await recover(database, projection)
    async with database.transaction() as connection:
        for shadow in shadows.values():
            await strategy.drop_if_exists(connection, shadow)
            await strategy.create(connection, shadow)
    async with database.transaction() as connection:
        await reset_checkpoint(connection, shadow_checkpoint, status=Status.REBUILDING)

    applier = BatchApplier(
        projection,
        shadow_checkpoint,
        shadows,
        replaying=True,
        status=Status.REBUILDING,
        allowed=(Status.REBUILDING,),
    )
    position = 0
    replayed = 0
    attempt = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attempt += 1
        while True:
            events = await store.read_all(after_position=position, limit=batch_size)
            if not events:
                break
            position = await applier.apply(database, events, position)
            replayed += len(events)
        try:
            await _swap(database, projection, live, shadows, shadow_checkpoint, position)
        except _ShadowBehind:
            # The live copy is ahead: the store may still hold back what it applied
            # from us for a moment (a long transaction elsewhere), so wait, then go on.
            log.info("rebuild of %s: live moved past %s, catching up", projection.name, position)
            await asyncio.sleep(retry_interval)
            continue
        return RebuildResult(projection.name, position, replayed, attempt)
    raise ConcurrencyError(f"rebuild of projection {projection.name}", position, None)


async def _swap(
    database: Database,
    projection: Projection,
    live: Mapping[str, Table],
    shadows: Mapping[str, Table],
    shadow_checkpoint: str,
    position: int,
) -> None:
    strategy = STRATEGIES[database.backend]
    if strategy.atomic_with_checkpoint:
        async with unit_of_work(database) as uow:
            connection = uow.connection
            await _freeze(connection, projection.name, position, status=Status.LIVE)
            await strategy.swap(connection, live, shadows)
            await _move_live(connection, projection.name, shadow_checkpoint, position)
        return
    async with database.transaction() as connection:
        await _freeze(connection, projection.name, position, status=Status.SWAPPING)
    try:
        async with database.connect() as connection:
            await strategy.swap(connection, live, shadows)
            await connection.commit()
    except BaseException:
        # Whether the rename happened decides what the checkpoint must say.
        await recover(database, projection)
        raise
    async with database.transaction() as connection:
        await _move_live(connection, projection.name, shadow_checkpoint, position)
    async with database.connect() as connection:
        for name in live:
            await strategy.drop_old(connection, name)
        await connection.commit()


async def _freeze(connection: AsyncConnection, name: str, position: int, *, status: Status) -> None:
    """Lock the live checkpoint; refuse if the live model is ahead of the shadow."""
    checkpoint = await read_checkpoint(connection, name)
    current = checkpoint.position if checkpoint else 0
    if current > position:
        raise _ShadowBehind()
    # A same-position UPDATE takes the row lock: no live batch can commit past it now.
    if not await advance(connection, name, expected=current, position=current, status=status):
        raise _ShadowBehind()


async def _move_live(
    connection: AsyncConnection, name: str, shadow_checkpoint: str, position: int
) -> None:
    await reset_checkpoint(connection, name, status=Status.LIVE, position=position)
    await delete_checkpoint(connection, shadow_checkpoint)


async def recover(database: Database, projection: Projection) -> bool:
    """Finish or undo a swap that stopped half-way (backends without transactional DDL).

    The live checkpoint stays ``swapping`` if a rebuild died between freezing it
    and moving it. If the shadow tables are gone the rename happened: the live
    tables hold the shadow's state, so the checkpoint takes the shadow's position.
    Otherwise nothing was renamed and the checkpoint is simply unfrozen. Returns
    whether there was anything to recover. :func:`rebuild` calls it first.
    """
    strategy = STRATEGIES[database.backend]
    shadow_checkpoint = shadow_name(projection.name)
    async with database.transaction() as connection:
        current = await read_checkpoint(connection, projection.name)
        if current is None or current.status is not Status.SWAPPING:
            return False
        shadow = await read_checkpoint(connection, shadow_checkpoint)
        names = [shadow_name(table.name) for table in projection.tables]
        present = await connection.run_sync(
            lambda sync: [inspect(sync).has_table(name) for name in names]
        )
        if shadow is not None and not any(present):
            log.warning("projection %s: finishing an interrupted swap", projection.name)
            await _move_live(connection, projection.name, shadow_checkpoint, shadow.position)
        else:
            await set_status(connection, projection.name, Status.LIVE)
    if shadow is not None and not any(present):
        async with database.connect() as connection:
            for table in projection.tables:
                await strategy.drop_old(connection, table.name)
            await connection.commit()
    return True
