"""Search's operations: query the index, apply catalog events to it."""

from __future__ import annotations

from sqlalchemy import select

from shop.search import projection
from shop.search.fulltext import full_text_for, match
from shop.search.schemas import Document, Results
from shop.search.tables import documents
from tidings.errors import NotFound
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work


class SearchService:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.full_text = full_text_for(database.backend)

    async def search(self, query: str, *, limit: int = 20) -> Results:
        where, order = match(self.full_text, query)
        async with unit_of_work(self.database) as uow:
            rows = await uow.execute(select(documents).where(where).order_by(order).limit(limit))
            items = [Document.model_validate(dict(row._mapping)) for row in rows]
        return Results(query=query, ranked=self.full_text.ranked, items=items)

    async def get(self, product_id: str) -> Document:
        async with unit_of_work(self.database) as uow:
            row = (
                await uow.execute(select(documents).where(documents.c.product_id == product_id))
            ).one_or_none()
        if row is None:
            raise NotFound(f"product {product_id} is not in the search index")
        return Document.model_validate(dict(row._mapping))

    async def apply(self, event: projection.CatalogEvent) -> bool:
        """Apply a catalog event in its own unit of work (consumers pass theirs instead)."""
        async with unit_of_work(self.database) as uow:
            return await projection.apply(uow, event)
