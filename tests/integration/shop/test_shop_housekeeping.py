"""The shop's whole lifecycle on the real servers, as the README runs it: ``db provision``
puts each service where ``up`` runs it (PostgreSQL, payments on MariaDB, notifications
on SQLite), ``isolation check`` proves that mixed layout, ``db drop`` removes
everything the system owns (databases, roles, files, chDB, broker topology) and a
re-provisioned shop starts from nothing. A remembered password that no longer opens
its role is repaired, not trusted.

Each test works on a copy of the shop under a unique ``tidings_*`` name and drops it
all afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import aio_pika
import pytest
from aio_pika.exceptions import ChannelClosed
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from shop.analytics.facts import ChdbFactStore, SalesFact
from shop.payments.tables import payments
from shop.system import system as shop
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.brokers.topology import remove_namespace
from tidings.cli import app
from tidings.cli.common import console
from tidings.errors import ConfigurationError
from tidings.processes.stack import prepare
from tidings.provisioning import (
    admin_connection,
    admin_url,
    deprovision_layout,
    layout,
    provision_layout,
    read_env_file,
)
from tidings.provisioning.mariadb import account
from tidings.settings import load_settings
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.system import System, register
from tidings.testing.brokers import BROKER_URLS

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.rabbitmq]

# The CLI runs its own event loop, so these tests are plain functions.
runner = CliRunner()
AMQP = BROKER_URLS["rabbitmq"]


@dataclasses.dataclass
class Copy:
    system: System
    data_dir: Path
    env_file: Path

    def invoke(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    def provision(self) -> tuple[int, str]:
        return self.invoke(
            "db", "provision", "--system", self.system.name, "--backend", "postgres",
            "--env-file", str(self.env_file),
        )  # fmt: skip

    def drop(self) -> tuple[int, str]:
        return self.invoke(
            "db", "drop", "--system", self.system.name, "--backend", "postgres",
            "--broker", AMQP, "--env-file", str(self.env_file), "--yes",
        )  # fmt: skip

    def check(self, *options: str) -> tuple[int, str]:
        return self.invoke(
            "isolation", "check", "--system", self.system.name, "--env-file",
            str(self.env_file), *options,
        )  # fmt: skip

    @property
    def chdb(self) -> Path:
        return self.data_dir / self.system.name / "analytics.chdb"


@pytest.fixture
def shop_copy(tmp_path: Path) -> Iterator[Copy]:
    copy = register(dataclasses.replace(shop, name=f"tidings_hk{uuid.uuid4().hex[:8]}"))
    environment = {
        key: value for key, value in os.environ.items() if not key.endswith("_DATABASE_URL")
    }
    environment.update(
        TIDINGS_DATA_DIR=str(tmp_path / "data"),
        TIDINGS_ENV_FILE=str(tmp_path / "runtime.env"),
        COLUMNS="250",
    )
    # Wide enough that rich tables never wrap what the assertions look for.
    with (
        mock.patch.dict(os.environ, environment, clear=True),
        mock.patch.object(console, "_width", 250),
    ):
        try:
            yield Copy(copy, tmp_path / "data", tmp_path / "runtime.env")
        finally:
            settings = load_settings()
            asyncio.run(deprovision_layout(copy, Backend.POSTGRESQL, settings))
            asyncio.run(remove_namespace(AMQP, copy.name))


def test_provision_and_up_agree_and_isolation_check_proves_the_mixed_layout(
    shop_copy: Copy,
) -> None:
    code, output = shop_copy.provision()
    assert code == 0, output
    values = read_env_file(shop_copy.env_file)
    schemes = {
        service.name: make_url(values[service.env_var]).get_backend_name()
        for service in shop_copy.system.services
    }
    assert schemes.pop("payments") == "mysql"
    assert schemes.pop("notifications") == "sqlite"
    assert set(schemes.values()) == {"postgresql"}
    # What `up` runs: the same layout, already provisioned, so nothing changes.
    settings = load_settings()
    reports = asyncio.run(
        provision_layout(shop_copy.system, Backend.POSTGRESQL, settings, shop_copy.env_file)
    )
    assert not any(report.changed for report in reports)
    placed = asyncio.run(
        prepare(shop_copy.system, Backend.POSTGRESQL, settings, shop_copy.env_file)
    )
    assert placed == {
        service.name: backend
        for backend, services in layout(shop_copy.system, Backend.POSTGRESQL).items()
        for service in services
    }
    assert placed["payments"] is Backend.MARIADB
    assert placed["notifications"] is Backend.SQLITE

    code, output = shop_copy.check("--backend", "postgres")
    assert code == 0, output
    pairs = len(shop_copy.system.services) * (len(shop_copy.system.services) - 1)
    assert output.strip().splitlines()[-1] == f"refused {pairs}/{pairs}"
    # The layout of another backend is not what runs: the check says so.
    with pytest.raises(ConfigurationError, match="payments runs on mariadb, but the layout"):
        shop_copy.check("--backend", "postgres", "--uniform")


def test_drop_removes_everything_and_a_new_shop_starts_from_nothing(shop_copy: Copy) -> None:
    name = shop_copy.system.name
    assert shop_copy.provision()[0] == 0
    settings = load_settings()
    asyncio.run(prepare(shop_copy.system, Backend.POSTGRESQL, settings, shop_copy.env_file))
    asyncio.run(_leave_traces(shop_copy))
    assert asyncio.run(_facts(shop_copy)) == 1

    code, output = shop_copy.drop()
    assert code == 0, output
    removed = [line.removeprefix("removed ") for line in output.strip().splitlines()]
    for service in shop_copy.system.services:
        if service.name == "notifications":
            assert any(line.endswith(f"{name}/notifications.db") for line in removed)
            continue
        assert f"database {name}_{service.name}" in removed
        assert f"role {name}_{service.name}_app" in removed
        assert f"role {name}_{service.name}_owner" in removed
    assert str(shop_copy.chdb.resolve()) in removed
    assert f"queue {name}.analytics.sales" in removed
    assert f"queue {name}.analytics.sales.dead" in removed
    assert f"exchange {name}" in removed
    assert f"exchange {name}.dlx" in removed
    assert not shop_copy.chdb.exists()
    assert not asyncio.run(_queue_exists(f"{name}.analytics.sales"))

    code, again = shop_copy.drop()
    assert code == 0, again
    assert again.strip().splitlines() == [f"nothing to remove: {name} owns nothing here"]

    assert shop_copy.provision()[0] == 0
    asyncio.run(prepare(shop_copy.system, Backend.POSTGRESQL, settings, shop_copy.env_file))
    assert asyncio.run(_facts(shop_copy)) == 0
    assert asyncio.run(_rows(shop_copy, "payments", "payments")) == 0


def test_a_password_that_no_longer_opens_its_role_is_replaced(shop_copy: Copy) -> None:
    assert shop_copy.provision()[0] == 0
    settings = load_settings()
    asyncio.run(prepare(shop_copy.system, Backend.POSTGRESQL, settings, shop_copy.env_file))
    before = read_env_file(shop_copy.env_file)["PAYMENTS_DATABASE_URL"]
    role = make_url(before).username
    asyncio.run(_change_password(role))

    code, output = shop_copy.provision()
    assert code == 0, output
    assert f"role {role} refused the env file's password" in output
    assert "Access denied" in output
    after = read_env_file(shop_copy.env_file)["PAYMENTS_DATABASE_URL"]
    assert make_url(after).password != make_url(before).password
    # What `up` runs next works with the repaired password.
    asyncio.run(prepare(shop_copy.system, Backend.POSTGRESQL, settings, shop_copy.env_file))
    asyncio.run(_can_log_in(after))

    code, output = shop_copy.provision()
    assert "nothing changed" in output, output


async def _leave_traces(copy: Copy) -> None:
    """What a running shop leaves: a sale in chDB, a payment, a queue on the broker."""
    store = ChdbFactStore(copy.chdb)
    try:
        await store.record(
            [
                SalesFact(
                    order_id="o-1",
                    product_id="p-1",
                    quantity=1,
                    unit_price_cents=100,
                    amount_cents=100,
                    currency="EUR",
                    confirmed_at=datetime.now(UTC),
                )
            ]
        )
    finally:
        await store.close()
    url = read_env_file(copy.env_file)["PAYMENTS_DATABASE_URL"]
    async with Database("payments", url) as database, database.transaction() as connection:
        await connection.execute(
            insert(payments).values(
                id="p-1",
                order_id="o-1",
                amount_cents=100,
                currency="EUR",
                method="card",
                status="taken",
            )
        )
    async with RabbitMQBroker(AMQP, namespace=copy.system.name) as broker:
        await broker.declare_queue("analytics.sales", ["orders.OrderConfirmed"])


async def _facts(copy: Copy) -> int:
    store = ChdbFactStore(copy.chdb)
    try:
        return (await store.totals()).orders
    finally:
        await store.close()


async def _rows(copy: Copy, service: str, table: str) -> int:
    url = read_env_file(copy.env_file)[f"{service.upper()}_DATABASE_URL"]
    async with Database(service, url) as database, database.connect() as connection:
        return int((await connection.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())


async def _queue_exists(name: str) -> bool:
    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except ChannelClosed:
            return False
        return True


async def _change_password(role: str) -> None:
    """What happens elsewhere: the role is given a password the env file does not know."""
    async with admin_connection(admin_url(Backend.MARIADB, load_settings())) as connection:
        await connection.execute(text(f"ALTER USER {account(role)} IDENTIFIED BY 'elsewhere1'"))


async def _can_log_in(url: str) -> None:
    async with Database("payments", url) as database, database.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
