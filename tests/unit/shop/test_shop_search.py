"""Search on SQLite: the index follows catalog events; the LIKE fallback matches words."""

from __future__ import annotations

from shop.contracts.catalog import PriceChanged, ProductCreated, ProductDeleted, ProductUpdated
from shop.search.api import create_app
from shop.search.fulltext import full_text_for
from shop.testing import http_client, migrate
from tidings.storage.capabilities import Backend


def created(product_id: str, name: str, description: str = "") -> ProductCreated:
    return ProductCreated(
        product_id=product_id,
        sku=product_id.upper(),
        name=name,
        description=description,
        price_cents=100,
        currency="EUR",
        version=1,
    )


async def test_the_index_follows_catalog_events(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="search"), "search")
    app = create_app(database)
    service = app.state.search
    assert await service.apply(created("p-1", "Blue mug", "stoneware, 300 ml"))
    assert await service.apply(created("p-2", "Red teapot"))
    assert await service.apply(
        PriceChanged(product_id="p-1", price_cents=150, currency="EUR", version=2)
    )
    # An older event arriving late changes nothing.
    assert not await service.apply(created("p-1", "Old name"))
    async with http_client(app) as client:
        found = (await client.get("/search", params={"q": "MUG"})).json()
        assert [item["product_id"] for item in found["items"]] == ["p-1"]
        assert found["items"][0]["price_cents"] == 150
        assert found["ranked"] is False
        by_description = (await client.get("/search", params={"q": "stoneware"})).json()
        assert [item["product_id"] for item in by_description["items"]] == ["p-1"]
        # LIKE wildcards in the query are taken literally.
        assert (await client.get("/search", params={"q": "%"})).json()["items"] == []
        assert (await client.get("/search", params={"q": ""})).status_code == 422
        await service.apply(
            ProductUpdated(
                product_id="p-2",
                sku="P-2",
                name="Green teapot",
                description="",
                price_cents=100,
                currency="EUR",
                version=2,
            )
        )
        assert (await client.get("/documents/p-2")).json()["name"] == "Green teapot"
        await service.apply(ProductDeleted(product_id="p-2", version=3))
        assert (await client.get("/documents/p-2")).status_code == 404


def test_full_text_is_a_capability_of_postgresql_only() -> None:
    assert full_text_for(Backend.POSTGRESQL).ranked
    assert full_text_for(Backend.POSTGRESQL).index_statements
    assert not full_text_for(Backend.SQLITE).ranked
    assert not full_text_for(Backend.MARIADB).index_statements
