"""Helpers for the shop's tests: a migrated database per service, an HTTP client on an
app, acting as a role (tokens signed with the app's own secret)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import inspect, select

from shop.client import TokenAuth, minted_auth
from shop.common.auth import Role
from shop.common.http import in_process_client
from shop.contracts.base import aggregate_of, registry
from shop.system import system
from tidings.inbox import Consumer, Outcome
from tidings.messages import Message, encode, headers_for
from tidings.migrations.runner import upgrade
from tidings.outbox import outbox
from tidings.storage.database import Database


async def migrate(database: Database, service: str) -> Database:
    """Bring ``database`` to the head of ``service``'s history; returns it."""
    await upgrade(database, system.service(service))
    return database


@asynccontextmanager
async def http_client(
    app: FastAPI, auth: httpx.Auth | Role | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client that calls ``app`` in-process (no server, no socket), anonymous unless
    ``auth`` is given: an ``httpx.Auth``, or a role to act as (see :func:`acting_as`)."""
    chosen = acting_as(app, auth) if isinstance(auth, Role) else auth
    async with in_process_client(app, auth=chosen) as client:
        yield client


def acting_as(app: FastAPI, role: Role, subject: str | None = None) -> TokenAuth:
    """Tokens for ``role`` that ``app`` (and every app of its shop) accepts; a customer's
    ``subject`` is their user id."""
    return minted_auth(app.state.auth, subject or f"test-{role.value}", role)


def customer(app: FastAPI, user_id: str) -> TokenAuth:
    """Acting as the customer ``user_id``."""
    return acting_as(app, Role.CUSTOMER, user_id)


async def send(consumer: Consumer, message: Message, *, message_id: str | None = None) -> Outcome:
    """Hand ``message`` to ``consumer`` as if a broker delivered it (a fresh envelope)."""
    aggregate_type, aggregate_id = aggregate_of(message)
    envelope = registry.envelope_for(
        message,
        source="test",
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        message_id=message_id,
    )
    return await consumer.process(encode(envelope), headers_for(envelope), topic=envelope.type)


async def deliver(source: Database, consumers: Sequence[Consumer], *, after: int = 0) -> int:
    """A broker-free relay: hand each outbox row of ``source`` after ``after`` (a seq) to
    every consumer bound to its topic, in order. Returns the last seq handed over."""
    async with source.connect() as connection:
        rows = (
            await connection.execute(
                select(outbox.c.seq, outbox.c.topic, outbox.c.payload, outbox.c.headers)
                .where(outbox.c.seq > after)
                .order_by(outbox.c.seq)
            )
        ).all()
    for row in rows:
        for consumer in consumers:
            if row.topic in consumer.topics:
                await consumer.process(row.payload.encode(), row.headers, topic=row.topic)
        after = int(row.seq)
    return after


class Pump:
    """A broker-free relay for a whole shop: hands every new outbox row of every
    publishing database to the consumers bound to its topic, until none is left."""

    def __init__(self, databases: dict[str, Database], consumers: Sequence[Consumer]) -> None:
        self.databases = databases
        self.consumers = list(consumers)
        self._after: dict[str, int] = {}

    async def run(self, *, rounds: int = 50) -> int:
        """Deliver until the shop is quiet; returns how many rounds it took."""
        for round_number in range(1, rounds + 1):
            moved = False
            for name, database in self.databases.items():
                if "outbox" not in await _tables(database):
                    continue
                before = self._after.get(name, 0)
                self._after[name] = await deliver(database, self.consumers, after=before)
                moved = moved or self._after[name] != before
            if not moved:
                return round_number
        raise AssertionError(f"the shop was still busy after {rounds} rounds")


async def _tables(database: Database) -> set[str]:
    async with database.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
