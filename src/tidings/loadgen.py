"""Load against a running system: N operations from C concurrent clients, measured.

A system that can be driven puts a :data:`LoadHook` in ``system.extras["load"]``:
given where its services answer, it sets up what the operations need and yields a
:class:`Scenario`, whose ``one(index)`` performs one operation and says how it
ended. :func:`run_load` runs the operations and gathers a :class:`LoadReport`:
throughput, latency percentiles per measured phase, and outcomes by status.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from tidings.errors import ConfigurationError
from tidings.system import System

LOAD_EXTRA = "load"
ERROR_STATUS = "error"


@dataclass(frozen=True)
class Outcome:
    """How one operation ended: its final ``status``, the seconds each phase took,
    and a ``label`` naming the kind of operation (to compare outcomes per kind)."""

    status: str
    latencies: Mapping[str, float] = field(default_factory=dict)
    label: str = ""
    detail: str = ""


class Scenario(Protocol):
    async def one(self, index: int) -> Outcome:
        """Perform operation ``index`` (0-based) and report how it ended."""


@dataclass(frozen=True)
class LoadTarget:
    urls: Mapping[str, str]
    """Each service's base URL."""
    count: int
    """How many operations will run (lets the scenario size its setup)."""
    seed: int = 0


LoadHook = Callable[[LoadTarget], AbstractAsyncContextManager[Scenario]]


def load_hook(system: System) -> LoadHook:
    """``system.extras["load"]``, or ConfigurationError when the system has none."""
    hook = system.extras.get(LOAD_EXTRA)
    if hook is None or not callable(hook):
        raise ConfigurationError(f"system {system.name} has no load driver")
    found: LoadHook = hook
    return found


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LoadReport:
    outcomes: tuple[Outcome, ...]
    elapsed: float
    """Wall-clock seconds from the first operation's start to the last one's end."""

    @property
    def throughput(self) -> float:
        """Operations finished per second."""
        return len(self.outcomes) / self.elapsed if self.elapsed > 0 else 0.0

    def by_status(self) -> Counter[str]:
        return Counter(outcome.status for outcome in self.outcomes)

    def by_label(self) -> dict[str, Counter[str]]:
        found: dict[str, Counter[str]] = {}
        for outcome in self.outcomes:
            found.setdefault(outcome.label, Counter())[outcome.status] += 1
        return found

    def phases(self) -> list[str]:
        seen: dict[str, None] = {}
        for outcome in self.outcomes:
            seen.update(dict.fromkeys(outcome.latencies))
        return list(seen)

    def percentiles(self, phase: str) -> dict[str, float]:
        """``p50``, ``p95``, ``p99`` and ``max`` of ``phase``'s seconds."""
        values = [o.latencies[phase] for o in self.outcomes if phase in o.latencies]
        return {
            "p50": percentile(values, 0.50),
            "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99),
            "max": max(values, default=0.0),
        }

    def errors(self) -> list[str]:
        return [o.detail for o in self.outcomes if o.status == ERROR_STATUS]


async def run_load(
    scenario: Scenario,
    count: int,
    concurrency: int,
    *,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> LoadReport:
    """Run operations ``0..count-1`` with at most ``concurrency`` in flight.

    An operation that raises counts as status ``error`` (with the exception in
    ``detail``) rather than ending the run: a load test reports failures.
    """
    if count < 0 or concurrency < 1:
        raise ConfigurationError("a load needs count >= 0 and concurrency >= 1")
    indexes = iter(range(count))
    outcomes: list[Outcome] = []

    async def client() -> None:
        for index in indexes:
            try:
                outcome = await scenario.one(index)
            except Exception as error:  # any failure of one operation is its outcome
                outcome = Outcome(ERROR_STATUS, detail=f"{type(error).__name__}: {error}")
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(min(concurrency, max(count, 1)))))
    return LoadReport(tuple(outcomes), time.perf_counter() - started)
