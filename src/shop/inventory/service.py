"""Inventory's operations over the library's event store.

Each decision loads the streams it touches, lets the aggregate decide, and
appends the new events at the versions it read, in one unit of work with the
published message. A concurrent writer makes the append fail with
:class:`ConcurrencyError`; reserving and releasing then decide again from fresh
state (a bounded number of times), an adjustment with an explicit expected
version reports the conflict instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from shop.common.errors import Conflict
from shop.common.publishing import Publisher
from shop.contracts.base import Line
from shop.contracts.inventory import (
    StockAdjusted,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from shop.inventory import domain
from shop.inventory.domain import Reservation, StockItem, StockRefused
from shop.inventory.streams import latest_snapshot_in, read_stream_in
from tidings.errors import ConcurrencyError, NotFound
from tidings.eventstore.base import EventStore, NewEvent
from tidings.eventstore.snapshots import Snapshot, SnapshotStore, snapshot_store_for
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work

T = TypeVar("T")

SNAPSHOT_EVERY = 50
"""A stock stream keeps a snapshot every this many events, so loading replays at most
that many (a busy product sees thousands of reservations)."""


class InventoryService:
    def __init__(
        self,
        database: Database,
        store: EventStore,
        publisher: Publisher,
        *,
        attempts: int = 5,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.database = database
        self.store = store
        self.publisher = publisher
        self.attempts = attempts
        self.snapshot_every = snapshot_every
        self.snapshots: SnapshotStore = snapshot_store_for(store)

    async def stock_in(self, uow: UnitOfWork, product_id: str) -> StockItem:
        """The product's stock from its latest snapshot and the events after it, in ``uow``."""
        stream = domain.stock_stream(product_id)
        item = StockItem(product_id)
        snapshot = await latest_snapshot_in(uow, stream)
        if snapshot is not None:
            item = StockItem.restore(product_id, *snapshot)
        for event in await read_stream_in(uow, stream, after_version=item.version):
            item.apply(event)
        return item

    async def reservation_in(self, uow: UnitOfWork, order_id: str) -> Reservation:
        reservation = Reservation(order_id)
        for event in await read_stream_in(uow, domain.reservation_stream(order_id)):
            reservation.apply(event)
        return reservation

    async def stock(self, product_id: str) -> StockItem:
        """The product's stock from its latest snapshot and the events after it."""
        stream = domain.stock_stream(product_id)
        item = StockItem(product_id)
        snapshot = await self.snapshots.latest(stream)
        if snapshot is not None:
            item = StockItem.restore(product_id, snapshot.stream_version, snapshot.state)
        for event in await self.store.read_stream(stream, after_version=item.version):
            item.apply(event)
        return item

    async def _append_stock(self, uow: UnitOfWork, item: StockItem, event: NewEvent) -> None:
        """Append ``event`` at the version ``item`` was read at; every ``snapshot_every``
        versions also keep a snapshot, in the same transaction."""
        stream = domain.stock_stream(item.product_id)
        await self.store.append(stream, [event], expected_version=item.version, uow=uow)
        if (item.version + 1) % self.snapshot_every == 0:
            after = item.after(event)
            await self.snapshots.save(
                Snapshot(
                    stream_id=stream,
                    stream_version=after.version,
                    type=domain.STOCK_SNAPSHOT,
                    schema_version=1,
                    state=after.state(),
                    recorded_at=utcnow(),
                ),
                uow=uow,
            )

    async def reservation(self, order_id: str) -> Reservation:
        reservation = Reservation(order_id)
        for event in await self.store.read_stream(domain.reservation_stream(order_id)):
            reservation.apply(event)
        return reservation

    async def adjust(
        self, product_id: str, delta: int, reason: str, *, expected_version: int | None = None
    ) -> StockItem:
        """Count stock in (``delta`` > 0) or out; refuses to go below what is reserved."""

        async def attempt() -> StockItem:
            item = await self.stock(product_id)
            if expected_version is not None and item.version != expected_version:
                raise ConcurrencyError(
                    domain.stock_stream(product_id), expected_version, item.version
                )
            try:
                event = item.adjust(delta, reason)
            except StockRefused as refused:
                raise Conflict(str(refused)) from refused
            async with unit_of_work(self.database) as uow:
                await self._append_stock(uow, item, event)
                await self.publisher.publish(
                    uow,
                    StockAdjusted(product_id=product_id, delta=delta, on_hand=item.on_hand + delta),
                )
            return await self.stock(product_id)

        if expected_version is not None:
            return await attempt()
        return await self._retrying(attempt)

    async def reserve(self, order_id: str, lines: Sequence[Line]) -> Reservation:
        """Hold every line's stock for the order, or none of it.

        Idempotent per order: once placed or rejected, asking again returns the
        first answer without a second effect.
        """

        async def attempt() -> Reservation:
            async with unit_of_work(self.database) as uow:
                await self.reserve_in(uow, order_id, lines, self.publisher)
            return await self.reservation(order_id)

        return await self._retrying(attempt)

    async def reserve_in(
        self, uow: UnitOfWork, order_id: str, lines: Sequence[Line], publisher: Publisher
    ) -> Reservation | None:
        """One attempt at :meth:`reserve` in the caller's unit of work.

        Returns the reservation already decided for the order (nothing written),
        or None when this call decided it. Raises :class:`ConcurrencyError` when
        another writer appended to one of the streams first.
        """
        reservation = await self.reservation_in(uow, order_id)
        if reservation.status != "none":
            return reservation
        wanted: dict[str, int] = defaultdict(int)
        for line in lines:
            wanted[line.product_id] += line.quantity
        items = {product_id: await self.stock_in(uow, product_id) for product_id in sorted(wanted)}
        try:
            decided = {
                product_id: items[product_id].reserve(order_id, quantity)
                for product_id, quantity in wanted.items()
            }
        except StockRefused as refused:
            await self.store.append(
                domain.reservation_stream(order_id),
                [domain.rejected(str(refused))],
                expected_version=0,
                uow=uow,
            )
            await publisher.publish(
                uow, StockReservationRejected(order_id=order_id, reason=str(refused))
            )
            return None
        # Sorted stream order: two reservations touching the same products lock
        # them in the same order, so they cannot deadlock each other.
        for product_id in sorted(decided):
            await self._append_stock(uow, items[product_id], decided[product_id])
        await self.store.append(
            domain.reservation_stream(order_id),
            [domain.placed(wanted)],
            expected_version=0,
            uow=uow,
        )
        await publisher.publish(uow, StockReserved(order_id=order_id, lines=tuple(lines)))
        return None

    async def release(self, order_id: str) -> Reservation:
        """Let go of what the order holds; releasing twice changes nothing."""

        async def attempt() -> Reservation:
            async with unit_of_work(self.database) as uow:
                await self.release_in(uow, order_id, self.publisher)
            return await self.reservation(order_id)

        return await self._retrying(attempt)

    async def release_in(self, uow: UnitOfWork, order_id: str, publisher: Publisher) -> bool:
        """One attempt at :meth:`release` in the caller's unit of work; returns whether
        it released anything (and published :class:`StockReleased`).

        An order that never reserved is closed (rejected) instead, so a
        ReserveStock arriving after its ReleaseStock cannot hold stock for a dead
        order.
        """
        reservation = await self.reservation_in(uow, order_id)
        if reservation.status == "none":
            await self.store.append(
                domain.reservation_stream(order_id),
                [domain.rejected("released before it was reserved")],
                expected_version=0,
                uow=uow,
            )
            return False
        if reservation.status != "placed":
            return False
        items = {
            product_id: await self.stock_in(uow, product_id)
            for product_id in sorted(reservation.quantities)
        }
        for item in items.values():
            event = item.release(order_id)
            if event is not None:
                await self._append_stock(uow, item, event)
        await self.store.append(
            domain.reservation_stream(order_id),
            [domain.released()],
            expected_version=reservation.version,
            uow=uow,
        )
        await publisher.publish(uow, StockReleased(order_id=order_id))
        return True

    async def require_reservation(self, order_id: str) -> Reservation:
        reservation = await self.reservation(order_id)
        if reservation.status == "none":
            raise NotFound(f"order {order_id} has no reservation")
        return reservation

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        for _ in range(self.attempts - 1):
            try:
                return await attempt()
            except ConcurrencyError:
                continue  # someone appended first: decide again on fresh state
        return await attempt()
