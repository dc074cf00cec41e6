"""The shop's declaration: every module imports without I/O, every service migrates."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import shop
from shop.system import system
from tidings.migrations.runner import current, downgrade, heads, upgrade
from tidings.storage.capabilities import Backend
from tidings.system import get_system

SERVICES = [service.name for service in system.services]


def test_every_shop_module_imports() -> None:
    names = [module.name for module in pkgutil.walk_packages(shop.__path__, prefix="shop.")]
    for name in names:
        importlib.import_module(name)
    assert {"shop.system", "shop.users.api", "shop.inventory.domain"} <= set(names)


def test_the_system_is_found_by_name_and_follows_the_design() -> None:
    found = get_system("shop")
    assert found is system
    assert SERVICES == [
        "users",
        "catalog",
        "inventory",
        "orders",
        "payments",
        "notifications",
        "search",
        "analytics",
    ]
    backends = {service.name: service.backend for service in system.services}
    assert backends["payments"] is Backend.MARIADB
    assert backends["notifications"] is Backend.SQLITE
    assert "ledger_entries" in system.service("payments").append_only


def test_services_never_import_each_other() -> None:
    """A service may import shop.common and shop.contracts, never another service."""
    for service in SERVICES:
        package = importlib.import_module(f"shop.{service}")
        for module in pkgutil.walk_packages(package.__path__, prefix=f"shop.{service}."):
            source = importlib.util.find_spec(module.name).origin  # type: ignore[union-attr]
            text = open(source, encoding="utf-8").read()  # noqa: SIM115
            for other in SERVICES:
                if other != service:
                    assert f"shop.{other}" not in text, f"{module.name} imports shop.{other}"


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_create_the_declared_tables_and_go_back(make_database, service) -> None:
    declared = system.service(service)
    database = await make_database("sqlite", service=service)
    await upgrade(database, declared)
    assert await current(database, declared) == heads(declared)[0]

    def differences(connection):  # the migrated schema against tables.py
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        found = compare_metadata(context, declared.metadata)
        names = set(inspect(connection).get_table_names())
        return found, names

    async with database.connect() as connection:
        found, names = await connection.run_sync(differences)
    own = set(declared.metadata.tables)
    # Library tables show up as "remove_table" (they are not in the service's MetaData).
    unexpected = [diff for diff in found if not _is_library_table(diff, declared.library_tables)]
    assert unexpected == []
    assert own | set(declared.library_tables) <= names
    await downgrade(database, declared, "base")
    async with database.connect() as connection:
        left = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert left & (own | set(declared.library_tables)) == set()


def _is_library_table(diff, library_tables) -> bool:
    kind = diff[0] if isinstance(diff, tuple) else None
    if kind == "remove_table":
        return diff[1].name in library_tables or diff[1].name.startswith("alembic_version")
    if kind == "remove_index":
        return diff[1].table.name in library_tables
    return False
