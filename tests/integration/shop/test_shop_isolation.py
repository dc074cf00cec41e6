"""Each shop service's runtime role reads its own database and no other's, and the
payments ledger refuses UPDATE to it (revoked privilege and trigger)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
from sqlalchemy import insert, update

from shop.payments.tables import ledger_entries
from shop.system import system
from tidings.errors import DatabaseError
from tidings.isolation import check_isolation
from tidings.migrations.runner import upgrade
from tidings.provisioning.grants import apply_grants
from tidings.provisioning.temporary import temporary_roles
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work
from tidings.system import System


async def isolated(make_database, backend: str, names: tuple[str, ...]):
    subset = System(name="shop", services=tuple(system.service(name) for name in names))
    urls: dict[str, str] = {}
    runtimes = {}
    stack = AsyncExitStack()
    for service in subset.services:
        database = await make_database(backend, service=service.name)
        roles = await stack.enter_async_context(temporary_roles(database))
        await upgrade(roles.owner, service)
        await apply_grants(roles.owner, service, roles.runtime.url)
        urls[service.name] = roles.runtime.url.render_as_string(hide_password=False)
        runtimes[service.name] = roles.runtime
    return stack, subset, urls, runtimes


@pytest.mark.postgres
async def test_postgres_services_cannot_read_each_other(make_database) -> None:
    stack, subset, urls, _ = await isolated(make_database, "postgres", ("users", "orders"))
    async with stack:
        report = await check_isolation(subset, urls)
    assert report.total == 2
    assert report.isolated, report


@pytest.mark.mariadb
async def test_mariadb_payments_is_isolated_and_its_ledger_append_only(make_database) -> None:
    stack, subset, urls, runtimes = await isolated(
        make_database, "mariadb", ("payments", "notifications")
    )
    async with stack:
        report = await check_isolation(subset, urls)
        runtime = runtimes["payments"]
        async with unit_of_work(runtime) as uow:
            await uow.execute(
                insert(ledger_entries).values(
                    payment_id="p",
                    order_id="o",
                    kind="charge",
                    amount_cents=1,
                    currency="EUR",
                    recorded_at=utcnow(),
                )
            )
        with pytest.raises(DatabaseError):
            async with unit_of_work(runtime) as uow:
                await uow.execute(update(ledger_entries).values(amount_cents=2))
    assert report.isolated, report
