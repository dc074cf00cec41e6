"""The engine's one outbound port: how a saga's commands leave the orchestrator."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from tidings.sagas.core import SagaCommand, TimelineEntry
from tidings.sagas.state import SagaState
from tidings.storage.uow import UnitOfWork


class CommandSender(abc.ABC):
    """Queues saga commands in the transition's unit of work.

    Contract: a command sent in ``uow`` leaves the orchestrator if and only if
    ``uow`` commits (the outbox gives exactly that). A command with ``resend``
    set goes out again under the same ``message_id``. The command's
    ``message_id`` is the envelope id; a participant's reply carries it as its
    causation id, which is how the reply finds its saga, step and attempt.
    """

    @abc.abstractmethod
    async def send(self, uow: UnitOfWork, command: SagaCommand) -> None:
        """Queue ``command`` in ``uow``'s transaction."""

    async def send_all(self, uow: UnitOfWork, commands: Sequence[SagaCommand]) -> None:
        for command in commands:
            await self.send(uow, command)

    async def pending(self, uow: UnitOfWork, message_ids: Sequence[str]) -> set[str]:
        """Those of ``message_ids`` not yet handed to the broker (their deadline has
        not started); a sender that cannot tell says none."""
        return set()


class RecordingCommandSender(CommandSender):
    """Keeps sent commands in memory once their transaction committed.

    A fake for tests and single-process experiments: commands recorded here are
    lost with the process, which the outbox-backed sender never does.
    """

    def __init__(self) -> None:
        self.sent: list[SagaCommand] = []

    async def send(self, uow: UnitOfWork, command: SagaCommand) -> None:
        uow.after_commit(lambda: self.sent.append(command))


class DeadLetterSink(abc.ABC):
    """Where a compensation that kept failing is reported, in the transition's transaction.

    The saga itself rests in ``compensation_failed`` with a ``dead_lettered``
    entry in its step log either way; a sink also puts it where operators look
    for failed messages (the inbox's dead-letter store).
    """

    @abc.abstractmethod
    async def record(self, uow: UnitOfWork, state: SagaState, entry: TimelineEntry) -> None:
        """Report the ``dead_lettered`` ``entry`` of the saga in ``state``."""
