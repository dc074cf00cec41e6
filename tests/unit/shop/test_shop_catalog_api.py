"""The catalog over HTTP on SQLite: CRUD, validation, and which events a change publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shop.catalog.api import create_app
from shop.common.auth import Role
from shop.common.publishing import CollectingPublisher
from shop.contracts.catalog import PriceChanged, ProductCreated, ProductDeleted, ProductUpdated
from shop.testing import http_client, migrate


@pytest.fixture
def published() -> CollectingPublisher:
    return CollectingPublisher()


@pytest.fixture
async def client(make_database, published: CollectingPublisher) -> AsyncIterator[httpx.AsyncClient]:
    database = await migrate(await make_database("sqlite", service="catalog"), "catalog")
    async with http_client(create_app(database, published), Role.STAFF) as client:
        yield client


async def create(client: httpx.AsyncClient, sku: str = "MUG-1", price: int = 1200) -> dict:
    body = {"sku": sku, "name": "Blue mug", "description": "A mug", "price_cents": price}
    response = await client.post("/products", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_read_list(client: httpx.AsyncClient, published) -> None:
    product = await create(client)
    assert product["currency"] == "EUR"
    assert (await client.get(f"/products/{product['id']}")).json() == product
    assert (await client.get("/products")).json()["total"] == 1
    [created] = published.of_type(ProductCreated)
    assert (created.product_id, created.price_cents, created.version) == (product["id"], 1200, 1)


async def test_a_negative_price_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/products", json={"sku": "X", "name": "X", "price_cents": -1})
    assert response.status_code == 422
    assert ["body", "price_cents"] in [error["loc"] for error in response.json()["detail"]]


async def test_a_price_change_publishes_price_changed_only(
    client: httpx.AsyncClient, published
) -> None:
    product = await create(client)
    changed = await client.patch(
        f"/products/{product['id']}", json={"version": 1, "price_cents": 1500}
    )
    assert changed.status_code == 200
    assert published.of_type(PriceChanged) == [
        PriceChanged(product_id=product["id"], price_cents=1500, currency="EUR", version=2)
    ]
    assert published.of_type(ProductUpdated) == []
    renamed = await client.patch(f"/products/{product['id']}", json={"version": 2, "name": "Mug"})
    assert renamed.status_code == 200
    assert [event.name for event in published.of_type(ProductUpdated)] == ["Mug"]


async def test_stale_version_409_missing_404_duplicate_sku_409(client: httpx.AsyncClient) -> None:
    product = await create(client)
    await client.patch(f"/products/{product['id']}", json={"version": 1, "name": "A"})
    stale = await client.patch(f"/products/{product['id']}", json={"version": 1, "name": "B"})
    assert stale.status_code == 409
    assert (await client.get("/products/none")).status_code == 404
    assert (
        await client.post("/products", json={"sku": "MUG-1", "name": "Twin", "price_cents": 1})
    ).status_code == 409


async def test_delete(client: httpx.AsyncClient, published) -> None:
    product = await create(client)
    assert (
        await client.delete(f"/products/{product['id']}", params={"version": 1})
    ).status_code == 204
    assert (await client.get(f"/products/{product['id']}")).status_code == 404
    assert published.of_type(ProductDeleted) == [
        ProductDeleted(product_id=product["id"], version=2)
    ]


async def test_openapi_lists_the_paths(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/products", "/products/{product_id}", "/health/ready"} <= set(paths)
