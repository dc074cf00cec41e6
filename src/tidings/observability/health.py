"""Health: is this service's database answering, its broker reachable, its relay keeping up?

A :class:`HealthCheck` is a named probe that raises when its component is not
healthy. :func:`check_health` runs probes concurrently, each bounded by a
timeout, and reports every component; :func:`health_router` serves the report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from tidings.brokers.base import Broker
from tidings.outbox.status import outbox_status
from tidings.storage.database import Database

Probe = Callable[[], Awaitable[None]]


class Unhealthy(Exception):
    """Raised by a probe whose component answers but is not healthy (a relay behind)."""


@dataclass(frozen=True)
class HealthCheck:
    name: str
    probe: Probe
    """Returns when the component is healthy; raises (anything) when it is not."""


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    healthy: bool
    detail: str
    """``"ok"`` or why it is not healthy."""
    seconds: float


@dataclass(frozen=True)
class HealthReport:
    components: tuple[ComponentHealth, ...]

    @property
    def healthy(self) -> bool:
        return all(component.healthy for component in self.components)

    @property
    def failing(self) -> list[str]:
        return [component.name for component in self.components if not component.healthy]

    def to_dict(self) -> dict[str, Any]:
        """``{"status": "ok"|"unavailable", "checks": {name: "ok"|"failed: ..."}, "failing"}``."""
        return {
            "status": "ok" if self.healthy else "unavailable",
            "checks": {
                component.name: "ok" if component.healthy else f"failed: {component.detail}"
                for component in self.components
            },
            "failing": self.failing,
        }


def database_check(database: Database, name: str = "database") -> HealthCheck:
    """Healthy when the database answers ``SELECT 1``."""

    async def probe() -> None:
        async with database.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return HealthCheck(name, probe)


def broker_check(broker: Broker, name: str = "broker") -> HealthCheck:
    """Healthy when the broker answers :meth:`~tidings.brokers.base.Broker.ping`."""
    return HealthCheck(name, broker.ping)


def relay_check(
    database: Database,
    *,
    max_age: float | timedelta = 30.0,
    max_backlog: int | None = None,
    name: str = "relay",
) -> HealthCheck:
    """Healthy while the oldest unpublished outbox row is younger than ``max_age``
    (seconds) and, if given, no more than ``max_backlog`` rows wait.

    An old row means the relay is down or the broker refuses: other services stop
    hearing from this one, however well it answers requests.
    """
    limit = max_age.total_seconds() if isinstance(max_age, timedelta) else float(max_age)

    async def probe() -> None:
        status = await outbox_status(database)
        age = status.oldest_age
        if age is not None and age.total_seconds() > limit:
            raise Unhealthy(
                f"{status.backlog} rows unpublished, the oldest for {age.total_seconds():.0f}s "
                f"(limit {limit:g}s)"
            )
        if max_backlog is not None and status.backlog > max_backlog:
            raise Unhealthy(f"{status.backlog} rows unpublished (limit {max_backlog})")

    return HealthCheck(name, probe)


def standard_checks(
    *,
    database: Database | None = None,
    broker: Broker | None = None,
    relay_lag: float | timedelta | None = None,
    max_backlog: int | None = None,
) -> list[HealthCheck]:
    """The usual three: database, broker, and relay lag (on ``database``'s outbox)."""
    if (relay_lag is not None or max_backlog is not None) and database is None:
        raise ValueError("relay_lag and max_backlog need the database that holds the outbox")
    checks: list[HealthCheck] = []
    if database is not None:
        checks.append(database_check(database))
    if broker is not None:
        checks.append(broker_check(broker))
    if database is not None and (relay_lag is not None or max_backlog is not None):
        checks.append(
            relay_check(
                database,
                max_age=relay_lag if relay_lag is not None else float("inf"),
                max_backlog=max_backlog,
            )
        )
    return checks


async def _run(check: HealthCheck, timeout: float) -> ComponentHealth:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check.probe(), timeout)
    except TimeoutError:
        detail = f"no answer within {timeout:g}s"
    # Whatever a probe raises, the component is unhealthy; the report names it.
    except Exception as error:
        detail = str(error) or type(error).__name__
    else:
        return ComponentHealth(check.name, True, "ok", time.perf_counter() - started)
    return ComponentHealth(check.name, False, detail, time.perf_counter() - started)


async def check_health(
    *checks: HealthCheck,
    database: Database | None = None,
    broker: Broker | None = None,
    relay_lag: float | timedelta | None = None,
    max_backlog: int | None = None,
    timeout: float = 5.0,
) -> HealthReport:
    """Run the standard checks for what is given, then ``checks``, concurrently.

    ``relay_lag`` (seconds) bounds the age of the oldest unpublished outbox row in
    ``database``; each probe gets ``timeout`` seconds, so a hung broker shows as
    unhealthy instead of hanging the caller.
    """
    every = [
        *standard_checks(
            database=database, broker=broker, relay_lag=relay_lag, max_backlog=max_backlog
        ),
        *checks,
    ]
    return HealthReport(tuple(await asyncio.gather(*(_run(check, timeout) for check in every))))
