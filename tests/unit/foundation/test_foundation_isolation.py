"""The isolation check reports access when there is no access control to stop it.

SQLite has no roles, so with each service on its own file every cross-service read
succeeds: the check must say so rather than report a refusal it never saw.
"""

from __future__ import annotations

from pathlib import Path

from examples.notes.system import system
from tidings.isolation import check_isolation
from tidings.migrations import runner
from tidings.storage.database import Database


async def test_every_unguarded_cross_service_read_counts_as_allowed(tmp_path: Path) -> None:
    urls = {
        service.name: f"sqlite+aiosqlite:///{tmp_path / service.name}.db"
        for service in system.services
    }
    for service in system.services:
        async with Database(service.name, urls[service.name]) as database:
            await runner.upgrade(database, service)
    report = await check_isolation(system, urls)
    assert (report.refused, report.total) == (0, 6)
    assert not report.isolated
    assert {(a.source, a.target) for a in report.attempts} == {
        (a, b) for a in urls for b in urls if a != b
    }
    assert report.own_access_failures == ()


async def test_a_service_that_cannot_read_its_own_database_proves_nothing(
    tmp_path: Path,
) -> None:
    urls = {
        service.name: f"sqlite+aiosqlite:///{tmp_path / service.name}.db"
        for service in system.services
    }
    # Nothing migrated: every service's read of its own database fails.
    report = await check_isolation(system, urls)
    assert report.total == 6
    assert {failure.source for failure in report.own_access_failures} == set(urls)
    assert not report.isolated
