"""Saga status over HTTP: a FastAPI router an orchestrator service mounts.

::

    app.include_router(saga_router(database), prefix="/sagas")

``GET /`` lists sagas (``?status=compensation_failed&limit=20``), ``GET /{id}``
shows one with its steps and timeline (404 if unknown). Read-only: retrying a
saga stays an operator action (``tidings saga retry``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from tidings.errors import NotFound
from tidings.sagas.state import SagaStatus
from tidings.sagas.status import detail_json, get_saga, list_sagas, summary_json
from tidings.storage.database import Database


def saga_router(database: Database) -> APIRouter:
    """Routes reading the sagas in ``database`` (the orchestrator's own)."""
    router = APIRouter(tags=["sagas"])

    @router.get("/")
    async def sagas(
        status: SagaStatus | None = None,
        saga_type: str | None = None,
        limit: int = Query(50, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        found = await list_sagas(database, status=status, saga_type=saga_type, limit=limit)
        return [summary_json(summary) for summary in found]

    @router.get("/{saga_id}")
    async def saga(saga_id: str) -> dict[str, Any]:
        try:
            return detail_json(await get_saga(database, saga_id))
        except NotFound as error:
            raise HTTPException(status_code=404, detail=str(error)) from error

    return router
