"""Saga status over HTTP, as an orchestrator service mounts it."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from saga_kit import Clock, answer, deliver, migrate, three_steps

from tidings.sagas import RecordingCommandSender, SagaEngine
from tidings.sagas.http import saga_router
from tidings.storage.uow import unit_of_work


async def test_list_and_show_sagas_over_http(make_database: object) -> None:
    database = await make_database("sqlite", service="orders")  # type: ignore[operator]
    await migrate(database)
    sender = RecordingCommandSender()
    engine = SagaEngine(database, [three_steps()], sender, clock=Clock())
    async with unit_of_work(database) as uow:
        saga_id = await engine.start(uow, "test.three", {"order": "o-1"})
    await deliver(engine, answer(sender.sent[-1], "refused"))
    app = FastAPI()
    app.include_router(saga_router(database), prefix="/sagas")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        listed = await client.get("/sagas/", params={"status": "failed"})
        shown = await client.get(f"/sagas/{saga_id}")
        missing = await client.get("/sagas/nope")
        wrong = await client.get("/sagas/", params={"status": "sideways"})
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()] == [saga_id]
    body = shown.json()
    assert body["summary"]["status"] == "failed"
    assert body["steps"]["reserve"]["status"] == "failed"
    assert [entry["event"] for entry in body["timeline"]][-1] == "failed"
    assert missing.status_code == 404
    assert wrong.status_code == 422
