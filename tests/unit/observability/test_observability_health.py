"""Health checks and the /health and /metrics routers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import insert

from tidings.brokers.memory import MemoryBroker
from tidings.observability import HealthCheck, check_health, health_router, metrics_router
from tidings.outbox.table import outbox
from tidings.storage.database import Database
from tidings.storage.types import utcnow

UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # nothing listens on port 1


@pytest.fixture
async def db(make_database) -> Database:  # type: ignore[no-untyped-def]
    database: Database = await make_database("sqlite", service="orders")
    async with database.transaction() as connection:
        await connection.run_sync(outbox.create)
    return database


@pytest.fixture
async def broker() -> AsyncIterator[MemoryBroker]:
    async with MemoryBroker(namespace=f"health{uuid.uuid4().hex[:8]}") as connected:
        yield connected


async def add_unpublished(database: Database, age: timedelta) -> None:
    async with database.transaction() as connection:
        await connection.execute(
            insert(outbox).values(
                id=str(uuid.uuid4()),
                aggregatetype="order",
                aggregateid="o1",
                type="orders.OrderPlaced",
                payload="{}",
                topic="orders.OrderPlaced",
                headers={},
                created_at=utcnow() - age,
            )
        )


async def test_healthy_when_database_broker_and_relay_are(
    db: Database, broker: MemoryBroker
) -> None:
    await add_unpublished(db, timedelta(seconds=1))

    report = await check_health(database=db, broker=broker, relay_lag=30)

    assert report.healthy
    assert [c.name for c in report.components] == ["database", "broker", "relay"]
    assert report.to_dict() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "relay": "ok"},
        "failing": [],
    }


async def test_each_failing_component_is_named() -> None:
    down = Database("orders", UNREACHABLE)
    not_connected = MemoryBroker()

    try:
        report = await check_health(database=down, broker=not_connected, timeout=5)
    finally:
        await down.close()

    assert report.failing == ["database", "broker"]
    assert "not connected" in report.to_dict()["checks"]["broker"]


async def test_relay_lag_and_backlog_thresholds(db: Database) -> None:
    await add_unpublished(db, timedelta(minutes=5))

    lagging = await check_health(database=db, relay_lag=timedelta(seconds=60))
    assert lagging.failing == ["relay"]
    assert "the oldest for 300s" in lagging.to_dict()["checks"]["relay"]

    assert (await check_health(database=db, relay_lag=600)).healthy
    backlog = await check_health(database=db, max_backlog=0)
    assert backlog.failing == ["relay"]


def test_relay_lag_needs_the_outbox_database() -> None:
    with pytest.raises(ValueError, match="outbox"):
        asyncio.run(check_health(relay_lag=30))


async def test_a_hung_probe_fails_after_the_timeout() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    async def fine() -> None:
        return None

    report = await check_health(HealthCheck("hung", hang), HealthCheck("fine", fine), timeout=0.05)

    assert report.failing == ["hung"]
    assert report.components[0].detail == "no answer within 0.05s"


async def test_router_live_and_ready(db: Database, broker: MemoryBroker) -> None:
    broken = [False]

    async def cache() -> None:
        if broken[0]:
            raise ConnectionError("cache refused")

    app = FastAPI()
    app.include_router(health_router(HealthCheck("cache", cache), database=db, broker=broker))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/health/live")).json() == {"status": "ok"}
        ready = await client.get("/health/ready")
        assert ready.status_code == 200

        broken[0] = True
        await broker.close()
        failing = await client.get("/health/ready")
        live = await client.get("/health/live")

    assert failing.status_code == 503
    body = failing.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["broker", "cache"]
    assert body["checks"]["cache"] == "failed: cache refused"
    assert body["checks"]["database"] == "ok"
    assert live.status_code == 200


async def test_metrics_router_refreshes_then_exposes_the_registry() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("test_backlog", "rows waiting", registry=registry)
    calls: list[str] = []

    async def refresh() -> None:
        calls.append("refresh")
        gauge.set(7)

    async def broken() -> None:
        raise RuntimeError("no database")

    app = FastAPI()
    app.include_router(metrics_router(registry, refresh=[broken, refresh]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "test_backlog 7.0" in response.text
    assert calls == ["refresh"]


async def test_metrics_router_defaults_to_the_process_registry() -> None:
    import tidings.inbox.metrics  # noqa: F401  (registers the consumer metrics)

    app = FastAPI()
    app.include_router(metrics_router())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        text = (await client.get("/metrics")).text

    assert "tidings_commit_to_effect_seconds" in text
