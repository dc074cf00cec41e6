"""Reading sagas: status, data and timeline of one instance, lists for operators.

Plain query functions over the orchestrator's tables, for the CLI, the dashboard
and a service's own HTTP endpoint (``GET /bookings/{id}/saga``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import func, select

from tidings.errors import NotFound
from tidings.sagas.state import SagaState, SagaStatus
from tidings.sagas.tables import saga_instances, saga_steps
from tidings.storage.database import Database


@dataclass(frozen=True)
class SagaSummary:
    id: str
    saga_type: str
    version: int
    status: SagaStatus
    correlation_id: str
    current_steps: tuple[str, ...]
    deadline_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, None while unfinished."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()


@dataclass(frozen=True)
class TimelineRecord:
    """One row of the step log."""

    id: int
    occurred_at: datetime
    event: str
    step: str | None
    kind: str | None
    attempt: int | None
    message_type: str | None
    message_id: str | None
    detail: Mapping[str, Any] | None


@dataclass(frozen=True)
class SagaDetail:
    summary: SagaSummary
    data: Mapping[str, Any]
    reason: str | None
    steps: Mapping[str, Mapping[str, Any]]
    """Each step's role, status, attempts, sends and compensation, as the engine holds
    them, and ``retrying``: in flight after more than one send."""
    timeline: tuple[TimelineRecord, ...] = field(default_factory=tuple)
    past_pivot: bool = False
    """The pivot succeeded: the saga only goes forward now, to ``completed``."""

    @property
    def status(self) -> SagaStatus:
        return self.summary.status


_SUMMARY_COLUMNS = (
    saga_instances.c.id,
    saga_instances.c.saga_type,
    saga_instances.c.saga_version,
    saga_instances.c.status,
    saga_instances.c.correlation_id,
    saga_instances.c.current_steps,
    saga_instances.c.deadline_at,
    saga_instances.c.created_at,
    saga_instances.c.updated_at,
    saga_instances.c.finished_at,
)


def _summary(row: Any) -> SagaSummary:
    return SagaSummary(
        id=row.id,
        saga_type=row.saga_type,
        version=row.saga_version,
        status=SagaStatus(row.status),
        correlation_id=row.correlation_id,
        current_steps=tuple(name for name in (row.current_steps or "").split(",") if name),
        deadline_at=row.deadline_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


async def list_sagas(
    database: Database,
    *,
    status: SagaStatus | str | None = None,
    saga_type: str | None = None,
    correlation_id: str | None = None,
    limit: int = 50,
) -> list[SagaSummary]:
    """The most recently updated sagas, newest first, optionally filtered."""
    statement = select(*_SUMMARY_COLUMNS)
    if status is not None:
        statement = statement.where(saga_instances.c.status == SagaStatus(status).value)
    if saga_type is not None:
        statement = statement.where(saga_instances.c.saga_type == saga_type)
    if correlation_id is not None:
        statement = statement.where(saga_instances.c.correlation_id == correlation_id)
    statement = statement.order_by(saga_instances.c.updated_at.desc(), saga_instances.c.id).limit(
        limit
    )
    async with database.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return [_summary(row) for row in rows]


async def count_by_status(database: Database) -> dict[str, int]:
    statement = select(saga_instances.c.status, func.count()).group_by(saga_instances.c.status)
    async with database.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return {str(status): int(count) for status, count in rows}


async def saga_timeline(database: Database, saga_id: str) -> list[TimelineRecord]:
    """The step log of ``saga_id`` in the order it was written (empty if none)."""
    statement = select(saga_steps).where(saga_steps.c.saga_id == saga_id).order_by(saga_steps.c.id)
    async with database.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return [
        TimelineRecord(
            id=row.id,
            occurred_at=row.occurred_at,
            event=row.event,
            step=row.step,
            kind=row.kind,
            attempt=row.attempt,
            message_type=row.message_type,
            message_id=row.message_id,
            detail=row.detail,
        )
        for row in rows
    ]


async def get_saga(database: Database, saga_id: str) -> SagaDetail:
    """Status, data, steps and timeline of one saga; :class:`NotFound` if there is none."""
    statement = select(*_SUMMARY_COLUMNS, saga_instances.c.state).where(
        saga_instances.c.id == saga_id
    )
    async with database.connect() as connection:
        row = (await connection.execute(statement)).one_or_none()
    if row is None:
        raise NotFound(f"no saga {saga_id} in {database.describe}")
    state = SagaState.from_json(dict(row.state))
    return SagaDetail(
        summary=_summary(row),
        data=state.data,
        reason=state.reason,
        steps={
            name: {**step.to_json(), "retrying": step.retrying}
            for name, step in state.steps.items()
        },
        timeline=tuple(await saga_timeline(database, saga_id)),
        past_pivot=state.past_pivot,
    )


def plain(value: Any) -> Any:
    """``value`` with datetimes as ISO text and enums as their values (JSON-ready)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def summary_json(summary: SagaSummary) -> dict[str, Any]:
    result: dict[str, Any] = plain(asdict(summary))
    return result


def detail_json(detail: SagaDetail) -> dict[str, Any]:
    result: dict[str, Any] = plain(asdict(detail))
    return result
