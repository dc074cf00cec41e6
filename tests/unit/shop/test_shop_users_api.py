"""The users service over HTTP on SQLite: CRUD, validation, conflicts, events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from shop.common.auth import Role
from shop.common.http import broker_check, relay_lag_check
from shop.common.publishing import CollectingPublisher
from shop.contracts.users import UserDeleted, UserRegistered, UserUpdated
from shop.testing import http_client, migrate
from shop.users.api import create_app
from tidings.brokers.memory import MemoryBroker
from tidings.outbox import outbox
from tidings.storage.database import Database

PASSWORD = "correct horse battery"


@pytest.fixture
async def published() -> CollectingPublisher:
    return CollectingPublisher()


@pytest.fixture
async def client(make_database, published: CollectingPublisher) -> AsyncIterator[httpx.AsyncClient]:
    database = await migrate(await make_database("sqlite", service="users"), "users")
    async with http_client(create_app(database, published), Role.STAFF) as client:
        yield client


async def register(client: httpx.AsyncClient, email: str = "ada@example.com") -> dict:
    response = await client.post(
        "/users", json={"password": PASSWORD, "email": email, "name": "Ada"}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_register_then_read_and_list(client: httpx.AsyncClient, published) -> None:
    user = await register(client)
    assert user["version"] == 1
    assert (await client.get(f"/users/{user['id']}")).json()["email"] == "ada@example.com"
    page = (await client.get("/users")).json()
    assert page["total"] == 1
    assert [item["id"] for item in page["items"]] == [user["id"]]
    assert published.of_type(UserRegistered) == [
        UserRegistered(user_id=user["id"], email="ada@example.com", name="Ada", version=1)
    ]


async def test_a_bad_body_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users", json={"password": PASSWORD, "email": "not-an-email", "name": "Ada"}
    )
    assert response.status_code == 422
    assert ["body", "email"] in [error["loc"] for error in response.json()["detail"]]


async def test_missing_user_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/users/nobody")).status_code == 404
    patch = await client.patch("/users/nobody", json={"version": 1, "name": "X"})
    assert patch.status_code == 404


async def test_a_stale_version_is_409_and_changes_nothing(
    client: httpx.AsyncClient, published
) -> None:
    user = await register(client)
    first = await client.patch(f"/users/{user['id']}", json={"version": 1, "name": "Ada L."})
    assert first.status_code == 200
    assert first.json()["version"] == 2
    stale = await client.patch(f"/users/{user['id']}", json={"version": 1, "name": "Other"})
    assert stale.status_code == 409
    assert stale.json()["actual_version"] == 2
    assert (await client.get(f"/users/{user['id']}")).json()["name"] == "Ada L."
    assert [e.version for e in published.of_type(UserUpdated)] == [2]


async def test_a_taken_email_is_409(client: httpx.AsyncClient) -> None:
    await register(client)
    again = await client.post(
        "/users", json={"password": PASSWORD, "email": "ada@example.com", "name": "Twin"}
    )
    assert again.status_code == 409


async def test_delete_needs_the_current_version(client: httpx.AsyncClient, published) -> None:
    user = await register(client)
    assert (await client.delete(f"/users/{user['id']}", params={"version": 7})).status_code == 409
    assert (await client.delete(f"/users/{user['id']}", params={"version": 1})).status_code == 204
    assert (await client.get(f"/users/{user['id']}")).status_code == 404
    assert published.of_type(UserDeleted) == [UserDeleted(user_id=user["id"], version=2)]


async def test_openapi_health_and_metrics(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/users", "/users/{user_id}", "/health/live", "/health/ready"} <= set(paths)
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}
    metrics = (await client.get("/metrics")).text
    assert 'route="/health/ready"' in metrics
    assert "shop_http_requests_total" in metrics


async def test_the_default_publisher_writes_the_outbox_in_the_same_transaction(
    make_database,
) -> None:
    database = await migrate(await make_database("sqlite", service="users"), "users")
    async with http_client(create_app(database)) as client:
        user = await register(client)
        duplicate = await client.post(
            "/users", json={"password": PASSWORD, "email": "ada@example.com", "name": "X"}
        )
        assert duplicate.status_code == 409
    async with database.connect() as connection:
        rows = (await connection.execute(select(outbox.c.type, outbox.c.aggregateid))).all()
    # The refused registration rolled back its outbox row with its user row.
    assert rows == [("users.UserRegistered", user["id"])]


async def test_readiness_is_503_when_the_database_cannot_be_opened(tmp_path) -> None:
    missing = Database("users", f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/users.db")
    async with http_client(create_app(missing)) as client:
        ready = await client.get("/health/ready")
        live = await client.get("/health/live")
    await missing.close()
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("failed")
    assert live.status_code == 200


async def test_readiness_checks_the_broker_and_the_relay_lag(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="users"), "users")
    async with MemoryBroker() as broker:
        checks = [broker_check(broker), relay_lag_check(database, max_lag_seconds=-1.0)]
        async with http_client(create_app(database, readiness=checks)) as client:
            assert (await client.get("/health/ready")).status_code == 200  # nothing unpublished
            await register(client)
            ready = await client.get("/health/ready")
    assert ready.status_code == 503
    checks_seen = ready.json()["checks"]
    assert checks_seen["broker"] == "ok"
    assert checks_seen["relay"].startswith("failed: relay lag: 1 rows unpublished")
