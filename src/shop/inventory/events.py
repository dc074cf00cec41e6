"""The commands inventory takes and the events it publishes (:mod:`shop.contracts.inventory`).

The event-store event types (its private history) are in :mod:`shop.inventory.domain`.
"""

from shop.contracts.inventory import (
    COMMANDS,
    EVENTS,
    ReleaseStock,
    ReserveStock,
    StockAdjusted,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)

__all__ = [
    "COMMANDS",
    "EVENTS",
    "ReleaseStock",
    "ReserveStock",
    "StockAdjusted",
    "StockReleased",
    "StockReservationRejected",
    "StockReserved",
]
