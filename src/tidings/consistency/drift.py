"""What a consistency check finds: one :class:`Drift` per disagreement, naming its ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID


class DriftKind(StrEnum):
    MISSING = "missing"
    """The owner holds a row the replica lacks."""
    EXTRA = "extra"
    """The replica holds a row its owner does not."""
    DIFFERENT = "different"
    """Both hold it, but fields (or totals) differ."""
    DANGLING = "dangling"
    """A reference points at a row the referenced service does not hold."""


@dataclass(frozen=True)
class Drift:
    """One disagreement between services.

    ``ids`` are the keys of the rows involved (as text); ``expected`` is what the
    authoritative side holds and ``actual`` what the other side holds (``None`` when
    that side has nothing); ``services`` names both sides, authoritative first.
    """

    check: str
    kind: DriftKind
    ids: tuple[str, ...]
    expected: Any
    actual: Any
    services: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "kind": str(self.kind),
            "ids": list(self.ids),
            "expected": jsonable(self.expected),
            "actual": jsonable(self.actual),
            "services": list(self.services),
        }


def jsonable(value: Any) -> Any:
    """``value`` with decimals, times and UUIDs turned into JSON numbers and text."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | bytes):
        return str(value)
    return value
