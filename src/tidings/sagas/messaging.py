"""The engine wired to the library's messaging: commands out through the outbox,
replies in through an inbox consumer, failed compensations into the dead-letter store.

Orchestrator::

    engine = SagaEngine(database, [booking_saga], OutboxCommandSender(registry),
                        dead_letters=InboxDeadLetterSink())
    replies = reply_consumer(engine, registry)   # a tidings.inbox.Consumer
    await replies.start(broker)

Participant, answering a command it handled::

    await send_reply(uow, registry, RoomReserved(...), to=envelope)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select

from tidings.errors import InvalidMessage
from tidings.inbox import Consumer, Outcome
from tidings.inbox import RetryPolicy as InboxRetryPolicy
from tidings.inbox.store import MAX_ERROR_LENGTH, Reason
from tidings.inbox.tables import dead_letters
from tidings.messages import Envelope, Message, MessageRegistry, decode
from tidings.messages.causation import current_cause, in_flow
from tidings.outbox import add, add_envelopes, outbox
from tidings.sagas.core import SagaCommand, TimelineEntry, Transition
from tidings.sagas.engine import SagaEngine, TransitionListener
from tidings.sagas.ports import CommandSender, DeadLetterSink
from tidings.sagas.state import SagaState
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work

DEFAULT_REPLY_CONSUMER = "saga-replies"


class OutboxCommandSender(CommandSender):
    """Writes saga commands to the orchestrator's outbox, in the transition's transaction.

    Each command's data is validated against its registered model first, so a
    command factory that builds bad data fails the transition instead of
    publishing. Commands of one saga share an aggregate (the saga type and id),
    so the relay publishes them in order. :meth:`pending` reads which commands
    are still unpublished: what keeps a deadline from running while the broker
    is away.
    """

    def __init__(self, registry: MessageRegistry, *, source: str | None = None) -> None:
        self.registry = registry
        self.source = source

    def envelope(self, uow: UnitOfWork, command: SagaCommand) -> Envelope:
        model = self.registry.registration(command.type).model
        try:
            message = model.model_validate(dict(command.data))
        except ValidationError as error:
            raise InvalidMessage(
                f"saga {command.saga_id} step {command.step}: {command.type} data is invalid: "
                f"{error}"
            ) from error
        return self.registry.envelope_for(
            message,
            source=self.source or uow.service,
            aggregate_type=command.saga_type,
            aggregate_id=command.saga_id,
            correlation_id=command.correlation_id,
            causation_id=command.causation_id,
            message_id=command.message_id,
        )

    async def send(self, uow: UnitOfWork, command: SagaCommand) -> None:
        await self.send_all(uow, [command])

    async def send_all(self, uow: UnitOfWork, commands: Sequence[SagaCommand]) -> None:
        resent = [command.message_id for command in commands if command.resend]
        waiting: set[str] = set()
        if resent:
            # A re-send keeps the message id (the participant's inbox dedupes it), and the
            # id is unique in the outbox: a row already published goes, and its copy is
            # written anew at the end of the outbox; one still unpublished stays as it is.
            await uow.execute(
                delete(outbox).where(outbox.c.id.in_(resent), outbox.c.published_at.is_not(None))
            )
            waiting = await self.pending(uow, resent)
        envelopes = [
            self.envelope(uow, command) for command in commands if command.message_id not in waiting
        ]
        if envelopes:
            await add_envelopes(uow, envelopes)

    async def pending(self, uow: UnitOfWork, message_ids: Sequence[str]) -> set[str]:
        statement = select(outbox.c.id).where(
            outbox.c.id.in_(list(message_ids)), outbox.c.published_at.is_(None)
        )
        return {str(value) for value in (await uow.execute(statement)).scalars()}


def in_saga_flow(listener: TransitionListener) -> TransitionListener:
    """``listener``, run so that what it publishes belongs to the saga's flow.

    A transition driven by a reply already runs inside the reply's cause (the
    inbox's handler); one driven by a deadline or an operator does not, and its
    messages would otherwise start a new flow, cut off from the saga's.
    """

    async def run(uow: UnitOfWork, moved: Transition) -> None:
        cause = current_cause()
        if cause is not None and cause.correlation_id == moved.state.correlation_id:
            await listener(uow, moved)
            return
        # The cause: the last message this transition is about (a command timed out,
        # one re-sent), so the chain back to the saga's commands stays unbroken.
        about = [entry.message_id for entry in moved.timeline if entry.message_id]
        with in_flow(moved.state.correlation_id, about[-1] if about else None):
            await listener(uow, moved)

    return run


class InboxDeadLetterSink(DeadLetterSink):
    """Puts a compensation that kept failing into the inbox's dead-letter store.

    The dead letter's consumer is ``saga:<saga type>``, its message the saga's
    id and step; its error says to run ``tidings saga retry <id>`` (replaying
    the dead letter itself has no effect: the saga, not a message, is stuck).
    Needs the ``dead_letters`` table in the orchestrator's database.
    """

    async def record(self, uow: UnitOfWork, state: SagaState, entry: TimelineEntry) -> None:
        detail = dict(entry.detail or {})
        error = (
            f"saga {state.saga_id} ({state.saga_type}): compensation of step {entry.step} "
            f"failed after {detail.get('attempts', '?')} attempts ({detail.get('why', '?')}); "
            f"fix the participant, then run `tidings saga retry {state.saga_id}`"
        )
        body = {
            "saga_id": state.saga_id,
            "saga_type": state.saga_type,
            "step": entry.step,
            "attempt": entry.attempt,
            "correlation_id": state.correlation_id,
        }
        await uow.execute(
            insert(dead_letters).values(
                id=str(uuid.uuid4()),
                consumer=f"saga:{state.saga_type}",
                message_id=state.saga_id,
                message_type="saga.CompensationFailed",
                topic=None,
                reason=Reason.FAILED.value,
                error=error[:MAX_ERROR_LENGTH],
                attempts=int(detail.get("attempts", 0) or 0),
                body=json.dumps(body).encode(),
                headers={"saga-id": state.saga_id, "correlation-id": state.correlation_id},
                failed_at=utcnow(),
            )
        )


class SagaReplyConsumer(Consumer):
    """The inbox consumer of an orchestrator's replies.

    The inbox drops a redelivered reply before the saga sees it; this consumer
    then still notes it in the saga's step log (``reply_ignored``, "duplicate
    delivery"), so a saga's timeline shows every reply that reached it.
    """

    def __init__(
        self,
        engine: SagaEngine,
        registry: MessageRegistry,
        *,
        name: str = DEFAULT_REPLY_CONSUMER,
        retry: InboxRetryPolicy | None = None,
    ) -> None:
        super().__init__(name, engine.database, registry, retry=retry)
        self.engine = engine
        for type_name in sorted(engine.reply_types):
            self.on(registry.registration(type_name).model, self._on_reply)

    async def _on_reply(self, uow: UnitOfWork, message: Message, envelope: Envelope) -> None:
        await self.engine.handle_reply_message(
            uow,
            reply_type=envelope.type,
            data=message.model_dump(mode="json"),
            message_id=envelope.id,
            causation_id=envelope.causationid,
        )

    async def process(
        self,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        topic: str | None = None,
    ) -> Outcome:
        outcome = await super().process(body, headers, topic=topic)
        if outcome is Outcome.DUPLICATE:
            await self._note_duplicate(body)
        return outcome

    async def _note_duplicate(self, body: bytes) -> None:
        envelope = decode(body)
        async with unit_of_work(self.database) as uow:
            reply = await self.engine.resolve_reply(
                uow,
                reply_type=envelope.type,
                data=envelope.data,
                message_id=envelope.id,
                causation_id=envelope.causationid,
            )
            if reply is not None:
                entry = TimelineEntry(
                    "reply_ignored",
                    step=reply.step,
                    kind=reply.kind,
                    attempt=reply.attempt,
                    message_type=reply.type,
                    message_id=reply.message_id,
                    detail={"why": "duplicate delivery (the inbox already applied it)"},
                )
                await self.engine.append_timeline(uow, reply.saga_id, [entry])


def reply_consumer(
    engine: SagaEngine,
    registry: MessageRegistry,
    *,
    name: str = DEFAULT_REPLY_CONSUMER,
    retry: InboxRetryPolicy | None = None,
) -> SagaReplyConsumer:
    """An inbox consumer that feeds every reply type of ``engine``'s sagas to it.

    The inbox row and the saga's transition commit together, so a redelivered
    reply has no second effect (it is only noted in the step log).
    """
    return SagaReplyConsumer(engine, registry, name=name, retry=retry)


async def send_reply(
    uow: UnitOfWork,
    registry: MessageRegistry,
    reply: Message,
    *,
    to: Envelope,
    **options: Any,
) -> Envelope:
    """A participant answers the saga command ``to`` through its own outbox.

    The reply's causation id is the command's id (how the engine finds the step),
    its correlation id the flow's; it shares the command's aggregate (the saga),
    so replies of one saga keep their order.
    """
    return await add(
        uow,
        registry,
        reply,
        aggregate_type=to.aggregatetype or to.type,
        aggregate_id=to.aggregateid or to.id,
        caused_by=to,
        **options,
    )
