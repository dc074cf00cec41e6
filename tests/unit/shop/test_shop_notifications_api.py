"""Notifications over HTTP on SQLite: a key is sent once, however often it is asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from shop.common.auth import Role
from shop.common.publishing import CollectingPublisher
from shop.contracts.notifications import NotificationSent, SendNotification
from shop.notifications.api import create_app
from shop.notifications.consumers import commands_consumer
from shop.testing import http_client, migrate, send
from tidings.inbox import Outcome


@pytest.fixture
def published() -> CollectingPublisher:
    return CollectingPublisher()


@pytest.fixture
async def client(make_database, published) -> AsyncIterator[httpx.AsyncClient]:
    database = await migrate(
        await make_database("sqlite", service="notifications"), "notifications"
    )
    async with http_client(create_app(database, published), Role.SERVICE) as client:
        yield client


BODY = {"idempotency_key": "order-1-confirmed", "recipient": "ada@example.com", "subject": "Hi"}


async def test_the_same_key_sends_once(client: httpx.AsyncClient, published) -> None:
    first = await client.post("/notifications", json=BODY)
    again = await client.post("/notifications", json={**BODY, "subject": "changed"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert (await client.get("/notifications")).json()["total"] == 1
    assert len(published.of_type(NotificationSent)) == 1
    got = await client.get(f"/notifications/{first.json()['id']}")
    assert got.json()["subject"] == "Hi"


async def test_concurrent_sends_of_one_key_send_once(client: httpx.AsyncClient, published) -> None:
    service = client._transport.app.state.notifications  # type: ignore[attr-defined]
    command = SendNotification(
        idempotency_key="k-race", recipient="a@example.com", subject="s", body="b"
    )
    consumer = commands_consumer(service)
    outcomes = await asyncio.gather(*(send(consumer, command) for _ in range(5)))
    assert set(outcomes) == {Outcome.APPLIED}
    assert (await client.get("/notifications")).json()["total"] == 1
    assert len(published.of_type(NotificationSent)) == 1


async def test_validation_and_missing(client: httpx.AsyncClient) -> None:
    bad = await client.post("/notifications", json={**BODY, "channel": "pigeon"})
    assert bad.status_code == 422
    assert ["body", "channel"] in [error["loc"] for error in bad.json()["detail"]]
    assert (await client.get("/notifications/none")).status_code == 404
