"""Users, catalog and search on PostgreSQL, through HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.catalog.api import create_app as catalog_app
from shop.common.auth import Role
from shop.contracts.catalog import ProductCreated
from shop.search.api import create_app as search_app
from shop.testing import http_client, migrate
from shop.users.api import create_app as users_app
from tidings.outbox import outbox

pytestmark = pytest.mark.postgres


async def test_users_on_postgres(make_database) -> None:
    database = await migrate(await make_database("postgres", service="users"), "users")
    async with http_client(users_app(database), Role.STAFF) as client:
        created = await client.post(
            "/users", json={"email": "ada@example.com", "name": "Ada", "password": "long enough"}
        )
        assert created.status_code == 201
        user = created.json()
        bad = await client.post("/users", json={"email": "ada@example.com"})
        assert bad.status_code == 422
        assert ["body", "name"] in [error["loc"] for error in bad.json()["detail"]]
        assert (await client.get("/users/00000000-0000-0000-0000-000000000000")).status_code == 404
        ok = await client.patch(f"/users/{user['id']}", json={"version": 1, "name": "Ada L."})
        assert ok.json()["version"] == 2
        stale = await client.patch(f"/users/{user['id']}", json={"version": 1, "name": "X"})
        assert stale.status_code == 409
        duplicate = await client.post(
            "/users", json={"email": "ada@example.com", "name": "B", "password": "long enough"}
        )
        assert duplicate.status_code == 409
        assert (await client.get("/health/ready")).status_code == 200
        assert "/users/{user_id}" in (await client.get("/openapi.json")).json()["paths"]
    async with database.connect() as connection:
        types = (await connection.execute(select(outbox.c.type).order_by(outbox.c.seq))).scalars()
        assert list(types) == ["users.UserRegistered", "users.UserUpdated"]


async def test_catalog_on_postgres(make_database) -> None:
    database = await migrate(await make_database("postgres", service="catalog"), "catalog")
    async with http_client(catalog_app(database), Role.STAFF) as client:
        body = {"sku": "MUG-1", "name": "Mug", "price_cents": 900}
        product = (await client.post("/products", json=body)).json()
        bad = await client.post("/products", json={**body, "currency": "euro"})
        assert bad.status_code == 422
        assert ["body", "currency"] in [error["loc"] for error in bad.json()["detail"]]
        assert (await client.get("/products/none")).status_code == 404
        priced = await client.patch(
            f"/products/{product['id']}", json={"version": 1, "price_cents": 1000}
        )
        assert priced.status_code == 200
        stale = await client.delete(f"/products/{product['id']}", params={"version": 1})
        assert stale.status_code == 409
        assert "/products" in (await client.get("/openapi.json")).json()["paths"]


async def test_search_uses_full_text_on_postgres(make_database) -> None:
    database = await migrate(await make_database("postgres", service="search"), "search")
    app = search_app(database)
    for number, (name, description) in enumerate(
        [("Blue mug", "stoneware mugs for tea"), ("Teapot", "a pot for brewing tea")], start=1
    ):
        await app.state.search.apply(
            ProductCreated(
                product_id=f"p-{number}",
                sku=f"SKU-{number}",
                name=name,
                description=description,
                price_cents=100,
                currency="EUR",
                version=1,
            )
        )
    async with http_client(app) as client:
        found = (await client.get("/search", params={"q": "tea"})).json()
        assert found["ranked"] is True
        assert {item["product_id"] for item in found["items"]} == {"p-1", "p-2"}
        both = (await client.get("/search", params={"q": "brewing tea"})).json()
        assert [item["product_id"] for item in both["items"]] == ["p-2"]
    async with database.connect() as connection:
        plan_rows = await connection.exec_driver_sql(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'search_documents'"
        )
        assert "ix_search_documents_fts" in set(plan_rows.scalars())
