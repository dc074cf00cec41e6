"""The card gateway port, and the simulated gateway the shop runs with.

The simulation is deterministic so a demo and its tests know the outcome: the
method ``declined`` is always declined, and amounts above ``limit_cents`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    approved: bool
    reason: str | None = None


class Gateway(Protocol):
    async def charge(self, order_id: str, amount_cents: int, currency: str, method: str) -> Charge:
        """Ask the card network for the money."""


DECLINED_METHOD = "declined"


class SimulatedGateway:
    def __init__(self, limit_cents: int = 1_000_000) -> None:
        self.limit_cents = limit_cents

    async def charge(self, order_id: str, amount_cents: int, currency: str, method: str) -> Charge:
        if method == DECLINED_METHOD:
            return Charge(approved=False, reason="card declined")
        if amount_cents > self.limit_cents:
            return Charge(approved=False, reason="amount over the card's limit")
        return Charge(approved=True)
