"""Run a system's checks and gather the sync delays its consumers recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.consistency.base import Check
from tidings.consistency.drift import Drift
from tidings.errors import ConfigurationError, TidingsError
from tidings.inbox.records import percentile, sync_delays
from tidings.storage.database import Database
from tidings.system import System

#: The key of ``System.extras`` under which a system declares its checks.
EXTRAS_KEY = "consistency"


@dataclass(frozen=True)
class DelayStats:
    """Commit-to-effect seconds of one event type, over every consuming service."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, sorted_seconds: Sequence[float]) -> DelayStats:
        return cls(
            count=len(sorted_seconds),
            p50=percentile(sorted_seconds, 0.5),
            p95=percentile(sorted_seconds, 0.95),
            p99=percentile(sorted_seconds, 0.99),
            max=sorted_seconds[-1],
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "count": self.count,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "max": self.max,
        }


@dataclass(frozen=True)
class ConsistencyReport:
    system: str
    checks: tuple[str, ...]
    """The names of the checks that ran."""
    drifts: tuple[Drift, ...]
    sync_delays: dict[str, DelayStats] = field(default_factory=dict)
    """Per event type; empty when no service has an inbox or none applied anything."""
    failures: dict[str, str] = field(default_factory=dict)
    """Checks (or ``sync-delay <service>``) that could not run, with the reason."""

    @property
    def ok(self) -> bool:
        """True when every check ran and found no drift."""
        return not self.drifts and not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "ok": self.ok,
            "checks": list(self.checks),
            "drifts": [drift.to_dict() for drift in self.drifts],
            "failures": dict(self.failures),
            "sync_delays": {kind: stats.to_dict() for kind, stats in self.sync_delays.items()},
        }


def declared_checks(system: System) -> list[Check]:
    """The checks ``system`` declares in ``extras["consistency"]`` (empty if none).

    The entry is a sequence of :class:`Check`, or a callable with no arguments that
    returns one (so building the checks may import what the system's module must not
    import at load time).
    """
    declared: Any = system.extras.get(EXTRAS_KEY, ())
    if callable(declared) and not isinstance(declared, Check):
        declared = declared()
    if isinstance(declared, Check):
        declared = (declared,)
    if not isinstance(declared, Iterable) or isinstance(declared, str | bytes):
        raise ConfigurationError(_malformed(system))
    found = list(declared)
    if not all(isinstance(item, Check) for item in found):
        raise ConfigurationError(_malformed(system))
    return found


def _malformed(system: System) -> str:
    return (
        f"system {system.name}: extras['consistency'] must be a sequence of "
        "tidings.consistency.Check or a callable returning one"
    )


def inbox_services(system: System) -> list[str]:
    """The services whose consumers record sync delays (their migrations include the inbox)."""
    return [service.name for service in system.services if "inbox" in service.library_tables]


async def _run(check: Check, databases: Mapping[str, Database]) -> list[Drift] | str:
    absent = [service for service in check.services if service not in databases]
    if absent:
        return f"no database for {', '.join(absent)}"
    try:
        return await check.run(databases)
    # A check is user code reading other services: whatever breaks one (a server
    # down, a column not labelled) is reported as its failure while the rest still run.
    except Exception as error:
        return f"{type(error).__name__}: {error}"


async def collect_sync_delays(
    databases: Mapping[str, Database], services: Iterable[str], *, since: datetime | None = None
) -> tuple[dict[str, DelayStats], dict[str, str]]:
    """Percentiles per event type over the inboxes of ``services``, and per-service failures."""
    merged: dict[str, list[float]] = {}
    failures: dict[str, str] = {}
    for service in services:
        database = databases.get(service)
        if database is None:
            continue
        try:
            found = await sync_delays(database, since=since)
        except TidingsError as error:
            failures[f"sync-delay {service}"] = str(error)
            continue
        for kind, seconds in found.items():
            merged.setdefault(kind, []).extend(seconds)
    return {kind: DelayStats.of(sorted(seconds)) for kind, seconds in sorted(merged.items())}, (
        failures
    )


async def check_consistency(
    system: System,
    databases: Mapping[str, Database],
    *,
    checks: Sequence[Check] | None = None,
    since: datetime | None = None,
    delays: bool = True,
) -> ConsistencyReport:
    """Run ``checks`` (default: the system's declared ones) and gather sync delays.

    ``databases`` maps service names to each service's own Database; a check whose
    services are not all there is reported as a failure. Sync delays cover the
    inboxes of the given services whose ``library_tables`` include ``"inbox"``,
    applied since ``since`` (all time by default).
    """
    chosen = list(checks) if checks is not None else declared_checks(system)
    outcomes = await asyncio.gather(*(_run(check, databases) for check in chosen))
    drifts: list[Drift] = []
    failures: dict[str, str] = {}
    for check, outcome in zip(chosen, outcomes, strict=True):
        if isinstance(outcome, str):
            failures[check.name] = outcome
        else:
            drifts.extend(outcome)
    stats: dict[str, DelayStats] = {}
    if delays:
        stats, delay_failures = await collect_sync_delays(
            databases, inbox_services(system), since=since
        )
        failures.update(delay_failures)
    return ConsistencyReport(
        system=system.name,
        checks=tuple(check.name for check in chosen),
        drifts=tuple(drifts),
        sync_delays=stats,
        failures=failures,
    )
