"""The orchestration engine: persists saga instances and advances them, one
transaction per transition.

Each transition runs in a unit of work on the orchestrator's own database:

1. the instance row is read ``FOR UPDATE`` where the backend has row locks
   (PostgreSQL, MariaDB), so one instance is advanced by one process at a time;
   SQLite takes its single write lock at ``BEGIN IMMEDIATE`` instead;
2. the pure core computes the new state, the commands and the timeline;
3. the row is updated, the timeline appended to ``saga_steps`` and the commands
   queued through the :class:`~tidings.sagas.ports.CommandSender` (the outbox),
   and all of it commits together.

Deadlines count from when a command left the outbox, not from when it was
written: when a deadline falls due, the engine asks the sender which of the
awaited commands are still unpublished (the outbox is in this same database)
and the core pushes those deadlines forward instead of timing the step out. A
broker outage therefore stretches deadlines rather than failing sagas; the
participants' replies stuck in *their* outboxes still count against the
deadline, which is why a missed deadline re-sends the command and a late
success is compensated rather than ignored.

A process killed anywhere leaves either the old state with none of its commands,
or the new state with all of them in the outbox: whichever process comes next
(a reply, or the deadline worker for a timer) carries the instance on.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from tidings.errors import ConcurrencyError, ConfigurationError, NotFound
from tidings.sagas import metrics
from tidings.sagas.core import (
    Kind,
    Reply,
    RetryRequested,
    SagaInput,
    TimelineEntry,
    TimersDue,
    Transition,
    awaited_commands,
    begin,
    transition,
)
from tidings.sagas.definition import SagaDefinition
from tidings.sagas.ports import CommandSender, DeadLetterSink
from tidings.sagas.state import ACTIVE_STATUSES, SagaState, StepState
from tidings.sagas.tables import saga_instances, saga_steps
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork, unit_of_work

log = logging.getLogger("tidings.sagas")

Clock = Callable[[], float]
TransitionListener = Callable[[UnitOfWork, Transition], Awaitable[None]]
"""Called inside every transition's transaction, after the engine's own writes:
the orchestrator's business rows (a booking's status) change atomically with the saga."""

POSTPONE_UNRUNNABLE = 60.0
"""Seconds before the deadline worker looks again at an instance it cannot run."""

UNKNOWN_SAGA = "unknown"
"""The saga id under which replies to no known saga command are logged."""


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class SagaEngine:
    """Runs the sagas of one orchestrator service.

    ``definitions`` may hold several versions of one saga type: an instance
    finishes on the version it started on while that definition is given, and
    is upcast to the newest one (through its declared upcasters) otherwise.
    """

    def __init__(
        self,
        database: Database,
        definitions: Iterable[SagaDefinition],
        sender: CommandSender,
        *,
        dead_letters: DeadLetterSink | None = None,
        listeners: Sequence[TransitionListener] = (),
        clock: Clock = time.time,
    ) -> None:
        self.database = database
        self.sender = sender
        self.dead_letters = dead_letters
        self.listeners = list(listeners)
        self.clock = clock
        self._versions: dict[str, dict[int, SagaDefinition]] = {}
        for definition in definitions:
            versions = self._versions.setdefault(definition.name, {})
            if definition.version in versions:
                raise ConfigurationError(
                    f"saga {definition.name} version {definition.version} given twice"
                )
            versions[definition.version] = definition
        if not self._versions:
            raise ConfigurationError("a saga engine needs at least one saga definition")

    def __repr__(self) -> str:
        return f"SagaEngine({self.database.service!r}, sagas={sorted(self._versions)})"

    # -- definitions ---------------------------------------------------------------------

    @property
    def saga_types(self) -> list[str]:
        return sorted(self._versions)

    def current(self, saga_type: str) -> SagaDefinition:
        """The newest definition of ``saga_type``: the one new instances start on."""
        try:
            versions = self._versions[saga_type]
        except KeyError:
            raise ConfigurationError(
                f"orchestrator {self.database.service} has no saga {saga_type!r} "
                f"(it runs {', '.join(self.saga_types)})"
            ) from None
        return versions[max(versions)]

    @property
    def reply_types(self) -> frozenset[str]:
        """Every reply type of every definition: the topics the orchestrator consumes."""
        types: set[str] = set()
        for versions in self._versions.values():
            for definition in versions.values():
                types |= definition.reply_types
        return frozenset(types)

    def definition_for(self, state: SagaState) -> tuple[SagaDefinition, list[TimelineEntry]]:
        """The definition ``state`` runs on, upcasting it in place when its own is gone.

        Raises :class:`ConfigurationError` (and changes nothing) when neither the
        instance's version nor a complete chain of upcasters is available: the
        instance then waits, intact, for a deploy that has one.
        """
        versions = self._versions.get(state.saga_type)
        if versions is None:
            raise ConfigurationError(f"saga {state.saga_id}: unknown saga type {state.saga_type}")
        if state.version in versions:
            return versions[state.version], []
        target = versions[max(versions)]
        if state.version > target.version:
            raise ConfigurationError(
                f"saga {state.saga_id} is on version {state.version} of {state.saga_type}, "
                f"newer than any this orchestrator knows ({target.version})"
            )
        missing = [v for v in range(state.version, target.version) if v not in target.upcasters]
        if missing:
            raise ConfigurationError(
                f"saga {state.saga_id} is on version {state.version} of {state.saga_type}: "
                f"keep that definition deployed or declare upcasters for versions {missing}"
            )
        unknown = set(state.steps) - {step.name for step in target.all_steps}
        if unknown:
            raise ConfigurationError(
                f"saga {state.saga_id}: version {target.version} of {state.saga_type} drops "
                f"steps {sorted(unknown)}; keep version {state.version} deployed until it ends"
            )
        data = dict(state.data)
        for version in range(state.version, target.version):
            data = target.upcasters[version](data)
        entry = TimelineEntry(
            "upcast", detail={"from_version": state.version, "to_version": target.version}
        )
        state.data = data
        state.version = target.version
        for step in target.all_steps:
            state.steps.setdefault(step.name, StepState())
        return target, [entry]

    # -- transitions ---------------------------------------------------------------------

    async def start(
        self,
        uow: UnitOfWork,
        saga_type: str,
        data: Mapping[str, Any],
        *,
        saga_id: str | None = None,
        correlation_id: str | None = None,
    ) -> str:
        """Start a saga in ``uow`` (with the caller's own rows); returns its id."""
        definition = self.current(saga_type)
        saga_id = saga_id or uuid.uuid4().hex
        now = self.clock()
        moved = begin(definition, saga_id, data, now=now, correlation_id=correlation_id)
        state = moved.state
        stamp = _at(now)
        await uow.execute(
            insert(saga_instances).values(
                id=saga_id,
                saga_type=state.saga_type,
                saga_version=state.version,
                status=state.status.value,
                state=state.to_json(),
                correlation_id=state.correlation_id,
                current_steps=",".join(state.current_steps),
                deadline_at=_at(state.next_timer),
                revision=1,
                created_at=stamp,
                updated_at=stamp,
                finished_at=_at(state.finished_at),
            )
        )
        await self._write_effects(uow, moved, now)
        uow.after_commit(lambda: metrics.observe_started(state.saga_type))
        return saga_id

    async def handle_reply(self, uow: UnitOfWork, reply: Reply) -> Transition | None:
        """Apply a participant's reply in ``uow`` (the inbox's unit of work).

        A reply for an unknown saga is recorded in the step log and returns None.
        """
        return await self._advance(uow, reply.saga_id, reply)

    async def handle_reply_message(
        self,
        uow: UnitOfWork,
        *,
        reply_type: str,
        data: Mapping[str, Any],
        message_id: str,
        causation_id: str | None,
    ) -> Transition | None:
        """Apply a reply that names the command it answers by ``causation_id``.

        The step log maps the command id to its saga, step and attempt. A reply
        to no known command changes nothing; it is recorded under the saga id
        ``unknown`` and None is returned.
        """
        reply = await self.resolve_reply(
            uow,
            reply_type=reply_type,
            data=data,
            message_id=message_id,
            causation_id=causation_id,
        )
        if reply is None:
            entry = TimelineEntry(
                "reply_ignored",
                message_type=reply_type,
                message_id=message_id,
                detail={"why": "answers no saga command", "causation_id": causation_id},
            )
            await self._append(uow, UNKNOWN_SAGA, self.clock(), [entry])
            return None
        return await self.handle_reply(uow, reply)

    async def resolve_reply(
        self,
        uow: UnitOfWork,
        *,
        reply_type: str,
        data: Mapping[str, Any],
        message_id: str,
        causation_id: str | None,
    ) -> Reply | None:
        """The :class:`Reply` to the saga command ``causation_id``, or None if it is none."""
        if not causation_id:
            return None
        statement = (
            select(saga_steps.c.saga_id, saga_steps.c.step, saga_steps.c.kind, saga_steps.c.attempt)
            .where(
                saga_steps.c.message_id == causation_id,
                saga_steps.c.event.in_(("command_sent", "compensation_sent")),
            )
            .limit(1)
        )
        row = (await uow.execute(statement)).one_or_none()
        if row is None:
            return None
        return Reply(
            saga_id=row.saga_id,
            step=row.step,
            kind=Kind(row.kind),
            attempt=int(row.attempt),
            type=reply_type,
            data=dict(data),
            message_id=message_id,
        )

    async def retry(self, saga_id: str, *, by: str = "operator") -> Transition:
        """Restart the failed compensations of a ``compensation_failed`` saga."""
        async with unit_of_work(self.database) as uow:
            moved = await self._advance(uow, saga_id, RetryRequested(by=by))
        if moved is None:
            raise NotFound(f"no saga {saga_id} in {self.database.describe}")
        return moved

    async def fire_due(self, limit: int = 100) -> int:
        """Fire the timers due now, one instance per transaction; returns how many fired.

        Several workers may run this at once: on backends with ``SKIP LOCKED``
        each claims instances the others do not hold.
        """
        fired = 0
        while fired < limit:
            saga_id: str | None = None
            try:
                async with unit_of_work(self.database) as uow:
                    saga_id = await self._claim_due(uow)
                    if saga_id is None:
                        return fired
                    await self._advance(uow, saga_id, TimersDue())
            except ConfigurationError as error:
                if saga_id is None:
                    raise
                # This instance needs a definition this process lacks; keep it intact
                # and stop it from blocking every other due timer.
                log.error("saga %s cannot advance: %s", saga_id, error)
                await self._postpone(saga_id, POSTPONE_UNRUNNABLE)
            fired += 1
        return fired

    async def _postpone(self, saga_id: str, seconds: float) -> None:
        async with unit_of_work(self.database) as uow:
            await uow.execute(
                update(saga_instances)
                .where(saga_instances.c.id == saga_id)
                .values(deadline_at=_at(self.clock() + seconds))
            )

    async def next_deadline(self) -> datetime | None:
        """When the earliest pending timer is due, or None."""
        statement = select(saga_instances.c.deadline_at).where(
            saga_instances.c.deadline_at.is_not(None),
            saga_instances.c.saga_type.in_(self.saga_types),
        )
        statement = statement.order_by(saga_instances.c.deadline_at).limit(1)
        async with unit_of_work(self.database) as uow:
            value: datetime | None = (await uow.execute(statement)).scalar_one_or_none()
        return value

    async def _claim_due(self, uow: UnitOfWork) -> str | None:
        table = saga_instances
        statement = (
            select(table.c.id)
            .where(
                table.c.deadline_at <= _at(self.clock()),
                # Another orchestrator may share the database with other sagas.
                table.c.saga_type.in_(self.saga_types),
            )
            .order_by(table.c.deadline_at)
            .limit(1)
        )
        if self.database.capabilities.skip_locked:
            # Workers skip instances another worker is advancing instead of queueing on them.
            statement = statement.with_for_update(skip_locked=True)
        value: str | None = (await uow.execute(statement)).scalar_one_or_none()
        return value

    async def _advance(
        self,
        uow: UnitOfWork,
        saga_id: str,
        message: SagaInput,
    ) -> Transition | None:
        table = saga_instances
        statement = select(table.c.state, table.c.revision).where(table.c.id == saga_id)
        if self.database.capabilities.row_locks:
            # The row lock makes transitions of one instance queue up, across processes
            # (a no-op when the deadline worker already claimed the row in this transaction).
            statement = statement.with_for_update()
        row = (await uow.execute(statement)).one_or_none()
        now = self.clock()
        if row is None:
            if isinstance(message, Reply):
                await self._append(
                    uow,
                    saga_id,
                    now,
                    [
                        TimelineEntry(
                            "reply_ignored",
                            step=message.step,
                            kind=message.kind,
                            attempt=message.attempt,
                            message_type=message.type,
                            message_id=message.message_id or None,
                            detail={"why": "no such saga"},
                        )
                    ],
                )
            return None
        state = SagaState.from_json(dict(row.state))
        definition, upcast = self.definition_for(state)
        if isinstance(message, TimersDue):
            # A command still in the outbox (broker down) has not reached its participant:
            # its deadline has not started. Same database, so this read is exact.
            due = awaited_commands(state, now)
            if due:
                message = TimersDue(unpublished=frozenset(await self.sender.pending(uow, due)))
        moved = transition(definition, state, message, now=now)
        if upcast:
            moved = Transition(
                moved.state, moved.commands, tuple(upcast) + moved.timeline, moved.previous_status
            )
        new = moved.state
        result = await uow.execute(
            update(table)
            .where(table.c.id == saga_id, table.c.revision == row.revision)
            .values(
                status=new.status.value,
                saga_version=new.version,
                state=new.to_json(),
                current_steps=",".join(new.current_steps),
                deadline_at=_at(new.next_timer) if new.status in ACTIVE_STATUSES else None,
                revision=row.revision + 1,
                updated_at=_at(now),
                finished_at=_at(new.finished_at),
            )
        )
        if getattr(result, "rowcount", 1) != 1:
            # Only reachable without row locks and without a single writer: refuse to
            # overwrite a transition another process made.
            raise ConcurrencyError(f"saga {saga_id}", row.revision, None)
        await self._write_effects(uow, moved, now)
        return moved

    async def _write_effects(self, uow: UnitOfWork, moved: Transition, now: float) -> None:
        state = moved.state
        await self._append(uow, state.saga_id, now, moved.timeline)
        await self.sender.send_all(uow, moved.commands)
        if self.dead_letters is not None:
            for entry in moved.timeline:
                if entry.event == "dead_lettered":
                    await self.dead_letters.record(uow, state, entry)
        for listener in self.listeners:
            await listener(uow, moved)
        if moved.status_changed:
            status = state.status
            seconds = now - state.started_at
            uow.after_commit(lambda: metrics.observe_finished(state.saga_type, status, seconds))

    async def append_timeline(
        self, uow: UnitOfWork, saga_id: str, entries: Iterable[TimelineEntry]
    ) -> None:
        """Append ``entries`` to the step log of ``saga_id`` without changing the saga."""
        await self._append(uow, saga_id, self.clock(), entries)

    async def _append(
        self, uow: UnitOfWork, saga_id: str, now: float, entries: Iterable[TimelineEntry]
    ) -> None:
        stamp = _at(now)
        rows = [
            {
                "saga_id": saga_id,
                "occurred_at": stamp,
                "event": entry.event,
                "step": entry.step,
                "kind": entry.kind.value if entry.kind else None,
                "attempt": entry.attempt,
                "message_type": entry.message_type,
                "message_id": entry.message_id,
                "detail": dict(entry.detail) if entry.detail else None,
            }
            for entry in entries
        ]
        if rows:
            await uow.execute(insert(saga_steps), rows)
