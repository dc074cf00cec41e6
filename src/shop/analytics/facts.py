"""Where sales facts live: ClickHouse, embedded (chDB) or a server (clickhouse-connect).

Both stores run the same SQL. The table is a ReplacingMergeTree keyed by order
and product and every read uses ``FINAL``, so recording the same order twice (a
redelivered event) counts it once. Both clients are synchronous; calls run in a
worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

DATABASE = "shop_analytics"
CLICKHOUSE_URL_VARIABLE = "ANALYTICS_CLICKHOUSE_URL"

_CREATE = (
    f"CREATE DATABASE IF NOT EXISTS {DATABASE}",
    f"CREATE TABLE IF NOT EXISTS {DATABASE}.sales_facts ("
    " order_id String, product_id String, quantity Int64, unit_price_cents Int64,"
    " amount_cents Int64, currency String, confirmed_at DateTime64(6, 'UTC')"
    ") ENGINE = ReplacingMergeTree ORDER BY (order_id, product_id)",
)
_TOTALS = (
    "SELECT uniqExact(order_id) AS orders, sum(quantity) AS units,"
    f" sum(amount_cents) AS revenue_cents FROM {DATABASE}.sales_facts FINAL"
)
_BY_PRODUCT = (
    "SELECT product_id, sum(quantity) AS units, sum(amount_cents) AS revenue_cents"
    f" FROM {DATABASE}.sales_facts FINAL GROUP BY product_id ORDER BY product_id"
)
_COLUMNS = (
    "order_id",
    "product_id",
    "quantity",
    "unit_price_cents",
    "amount_cents",
    "currency",
    "confirmed_at",
)


class SalesFact(BaseModel):
    order_id: str
    product_id: str
    quantity: int
    unit_price_cents: int
    amount_cents: int
    currency: str
    confirmed_at: datetime


class SalesTotals(BaseModel):
    orders: int
    units: int
    revenue_cents: int


class ProductSales(BaseModel):
    product_id: str
    units: int
    revenue_cents: int


class FactStore(Protocol):
    async def record(self, facts: Sequence[SalesFact]) -> None:
        """Store facts; storing one (order, product) again replaces it."""

    async def totals(self) -> SalesTotals: ...

    async def by_product(self) -> list[ProductSales]: ...

    async def close(self) -> None: ...


def _literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return f"toDateTime64('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _insert_sql(facts: Sequence[SalesFact]) -> str:
    rows = ", ".join(
        "(" + ", ".join(_literal(getattr(fact, column)) for column in _COLUMNS) + ")"
        for fact in facts
    )
    return f"INSERT INTO {DATABASE}.sales_facts ({', '.join(_COLUMNS)}) VALUES {rows}"


def _totals(row: dict[str, Any] | None) -> SalesTotals:
    row = row or {}
    return SalesTotals(
        orders=int(row.get("orders") or 0),
        units=int(row.get("units") or 0),
        revenue_cents=int(row.get("revenue_cents") or 0),
    )


class ChdbFactStore:
    """Facts in an embedded ClickHouse (chDB) whose files live at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._session: Any = None
        # chDB sessions are not safe to share across threads at once.
        self._lock = threading.Lock()

    def _query(self, sql: str, output: str = "CSV") -> Any:
        with self._lock:
            if self._session is None:
                from chdb import session

                self.path.mkdir(parents=True, exist_ok=True)
                open_session: Any = session.Session  # chDB ships no type hints
                self._session = open_session(str(self.path))
                for statement in _CREATE:
                    self._session.query(statement)
            return self._session.query(sql, output)

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        result = self._query(sql, "JSON")
        raw = result.bytes() if hasattr(result, "bytes") else bytes(result)
        if not raw.strip():
            return []
        data: list[dict[str, Any]] = json.loads(raw)["data"]
        return data

    async def record(self, facts: Sequence[SalesFact]) -> None:
        if facts:
            await asyncio.to_thread(self._query, _insert_sql(facts))

    async def totals(self) -> SalesTotals:
        rows = await asyncio.to_thread(self._rows, _TOTALS)
        return _totals(rows[0] if rows else None)

    async def by_product(self) -> list[ProductSales]:
        rows = await asyncio.to_thread(self._rows, _BY_PRODUCT)
        return [ProductSales.model_validate(row) for row in rows]

    async def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


class ClickHouseFactStore:
    """Facts on a ClickHouse server, e.g. ``http://user:pass@host:8123``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None

    def _client_ready(self) -> Any:
        if self._client is None:
            import clickhouse_connect

            self._client = clickhouse_connect.get_client(dsn=self.url)
            for statement in _CREATE:
                self._client.command(statement)
        return self._client

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        result = self._client_ready().query(sql)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    async def record(self, facts: Sequence[SalesFact]) -> None:
        if facts:
            await asyncio.to_thread(lambda: self._client_ready().command(_insert_sql(facts)))

    async def totals(self) -> SalesTotals:
        rows = await asyncio.to_thread(self._rows, _TOTALS)
        return _totals(rows[0] if rows else None)

    async def by_product(self) -> list[ProductSales]:
        rows = await asyncio.to_thread(self._rows, _BY_PRODUCT)
        return [ProductSales.model_validate(row) for row in rows]

    async def close(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
            self._client = None


class HttpFactReader:
    """The facts of a running analytics service, read over its HTTP API.

    Its chDB files belong to its process (chDB allows one per folder), so a check
    run beside a running shop reads through the service instead.
    """

    def __init__(self, base_url: str, auth: Any = None) -> None:
        """``auth`` (an ``httpx.Auth``) answers the reports' guard: operator or staff."""
        import httpx

        self.client = httpx.AsyncClient(base_url=base_url, timeout=10.0, auth=auth)

    async def ping(self) -> None:
        """Raise ``httpx.TransportError`` unless the service answers."""
        await self.client.get("/health/live")

    async def record(self, facts: Sequence[SalesFact]) -> None:
        raise NotImplementedError("facts are recorded by the analytics service itself")

    async def totals(self) -> SalesTotals:
        response = await self.client.get("/sales/totals")
        response.raise_for_status()
        return SalesTotals.model_validate(response.json())

    async def by_product(self) -> list[ProductSales]:
        response = await self.client.get("/sales/by-product")
        response.raise_for_status()
        return [ProductSales.model_validate(row) for row in response.json()]

    async def close(self) -> None:
        await self.client.aclose()


def fact_store(data_dir: Path) -> FactStore:
    """A server when ``ANALYTICS_CLICKHOUSE_URL`` is set, else chDB under ``data_dir``."""
    url = os.environ.get(CLICKHOUSE_URL_VARIABLE)
    if url:
        return ClickHouseFactStore(url)
    return ChdbFactStore(data_dir / "analytics.chdb")
