"""Sagas: orchestration as a persisted state machine, and choreography helpers.

Declare a :class:`SagaDefinition` of :class:`Step` s (and :class:`Parallel`
groups); run it with a :class:`SagaEngine` on the orchestrator's own database;
read status and timelines with :func:`get_saga` and :func:`list_sagas` (or the
FastAPI router in :mod:`tidings.sagas.http`).

How the pieces fit:

* :mod:`~tidings.sagas.core` is pure: ``(state, message, now) -> (state, commands,
  timeline)``. The engine runs it in one transaction per transition, with the
  instance row locked (``FOR UPDATE``; SQLite's single writer), and writes the
  commands through a :class:`CommandSender` (the outbox: :class:`OutboxCommandSender`).
* A command's id is a UUID derived from (saga, step, kind, attempt); the step log
  records it, and a participant's reply names it as causation id
  (:func:`send_reply`), which is how a reply finds its saga, step and attempt.
  Replies come in through an inbox consumer (:func:`reply_consumer`).
* Timers (step deadlines, retry backoffs) are persisted in ``deadline_at`` and
  fired by a :class:`DeadlineWorker`, in whichever process gets there first.
* Steps are compensatable, the pivot, or retriable (:class:`StepRole`); a
  definition with a step before the pivot that has no compensation is refused,
  steps after the pivot are retried until they succeed, and a saga past its
  pivot always completes.
* A missed deadline means the outcome is unknown: the same command (same id) is
  sent again, then the step is compensated with the others; a success that
  arrives late is compensated, never ignored. A step refused by its participant
  is not compensated. So participants answer a repeated command with the same
  reply, and keep a tombstone when an undo overtakes the action it undoes.
* A deadline does not run while its command waits in the outbox (broker down):
  the engine checks the outbox, in the same database, before timing a step out.
* A compensation that keeps failing leaves the saga ``compensation_failed``,
  with a dead letter, until :meth:`SagaEngine.retry` (``tidings saga retry``).
* Systems declare their orchestrators in ``System.extras["sagas"]``
  (:class:`Orchestrator`), which is how the CLI finds them.
"""

from tidings.sagas.core import (
    Kind,
    Reply,
    RetryRequested,
    SagaCommand,
    TimelineEntry,
    TimersDue,
    Transition,
    begin,
    command_id,
    transition,
)
from tidings.sagas.definition import (
    Compensation,
    Parallel,
    RetryPolicy,
    SagaDefinition,
    Step,
    StepRole,
)
from tidings.sagas.engine import SagaEngine, TransitionListener
from tidings.sagas.messaging import (
    InboxDeadLetterSink,
    OutboxCommandSender,
    SagaReplyConsumer,
    reply_consumer,
    send_reply,
)
from tidings.sagas.orchestrator import Orchestrator, orchestrator, orchestrators
from tidings.sagas.ports import CommandSender, DeadLetterSink, RecordingCommandSender
from tidings.sagas.state import (
    FINAL_STATUSES,
    CompensationStatus,
    SagaState,
    SagaStatus,
    StepState,
    StepStatus,
)
from tidings.sagas.status import (
    SagaDetail,
    SagaSummary,
    TimelineRecord,
    count_by_status,
    get_saga,
    list_sagas,
    saga_timeline,
)
from tidings.sagas.worker import DeadlineWorker

__all__ = [
    "FINAL_STATUSES",
    "CommandSender",
    "Compensation",
    "CompensationStatus",
    "DeadLetterSink",
    "DeadlineWorker",
    "InboxDeadLetterSink",
    "Kind",
    "Orchestrator",
    "OutboxCommandSender",
    "Parallel",
    "RecordingCommandSender",
    "Reply",
    "RetryPolicy",
    "RetryRequested",
    "SagaCommand",
    "SagaDefinition",
    "SagaDetail",
    "SagaEngine",
    "SagaReplyConsumer",
    "SagaState",
    "SagaStatus",
    "SagaSummary",
    "Step",
    "StepRole",
    "StepState",
    "StepStatus",
    "TimelineEntry",
    "TimelineRecord",
    "TimersDue",
    "Transition",
    "TransitionListener",
    "begin",
    "command_id",
    "count_by_status",
    "get_saga",
    "list_sagas",
    "orchestrator",
    "orchestrators",
    "reply_consumer",
    "saga_timeline",
    "send_reply",
    "transition",
]
