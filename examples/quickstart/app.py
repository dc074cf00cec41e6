"""The smallest whole system: two services, two databases, one event between them.

``accounts`` registers an account and publishes ``AccountOpened`` through its
outbox in the same transaction; ``mailer`` consumes it through its inbox and
records one welcome mail, however often the event is delivered.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from tidings import outbox
from tidings.brokers import broker_from_url
from tidings.inbox import Consumer
from tidings.messages import Envelope, Event, MessageRegistry
from tidings.migrations.runner import upgrade
from tidings.storage.database import Database
from tidings.storage.types import UTCDateTime, utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work
from tidings.system import Service, System

registry = MessageRegistry()


@registry.register("accounts.AccountOpened")
class AccountOpened(Event):
    account_id: str
    email: str


accounts_metadata = MetaData()
accounts = Table(
    "accounts",
    accounts_metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(200), nullable=False, unique=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
mailer_metadata = MetaData()
welcome_mails = Table(
    "welcome_mails",
    mailer_metadata,
    Column("account_id", String(36), primary_key=True),
    Column("email", String(200), nullable=False),
)

_MIGRATIONS = Path(__file__).parent / "migrations"
system = System(
    name="quickstart",
    services=(
        Service(
            "accounts",
            accounts_metadata,
            _MIGRATIONS / "accounts",
            library_tables=("audit_log", "outbox"),
        ),
        Service(
            "mailer",
            mailer_metadata,
            _MIGRATIONS / "mailer",
            library_tables=("audit_log", "inbox", "dead_letters"),
        ),
    ),
    description="two services and one event",
)


async def open_account(database: Database, email: str) -> str:
    """The account row and its event commit together, or neither does."""
    account_id = str(uuid.uuid4())
    async with unit_of_work(database) as uow:
        await uow.execute(
            insert(accounts).values(id=account_id, email=email, version=1, updated_at=utcnow())
        )
        await outbox.add(
            uow,
            registry,
            AccountOpened(account_id=account_id, email=email),
            aggregate_type="account",
            aggregate_id=account_id,
        )
    return account_id


def mailer_consumer(database: Database) -> Consumer:
    consumer = Consumer("welcome", database, registry, service="mailer")

    @consumer.handles(AccountOpened)
    async def send_welcome(uow: UnitOfWork, event: AccountOpened, _: Envelope) -> None:
        await uow.execute(
            insert(welcome_mails).values(account_id=event.account_id, email=event.email)
        )

    return consumer


async def _mails_sent(database: Database) -> int:
    async with database.read() as connection:
        count = select(func.count()).select_from(welcome_mails)
        return int((await connection.execute(count)).scalar_one())


async def main(data_dir: Path) -> int:
    """Run both services in one process on SQLite files and the in-process broker."""
    data_dir.mkdir(parents=True, exist_ok=True)
    accounts_db = Database("accounts", f"sqlite:///{data_dir}/accounts.db")
    mailer_db = Database("mailer", f"sqlite:///{data_dir}/mailer.db")
    for service, database in zip(system.services, (accounts_db, mailer_db), strict=True):
        await upgrade(database, service)
    async with broker_from_url("memory://", namespace="quickstart") as broker:
        subscription = await mailer_consumer(mailer_db).start(broker)
        async with outbox.Relay(accounts_db, broker):
            for email in ("ada@example.com", "grace@example.com"):
                await open_account(accounts_db, email)
            async with asyncio.timeout(30):  # until every account has its mail
                while (sent := await _mails_sent(mailer_db)) < 2:
                    await asyncio.sleep(0.05)
        await subscription.stop()
    await accounts_db.close()
    await mailer_db.close()
    print(f"{sent} welcome mails sent, one per account")
    return sent


if __name__ == "__main__":
    asyncio.run(main(Path(".tidings/quickstart")))
