"""The port through which a service publishes its messages: inside the unit of work
that changed its rows, so the message and the change commit together or not at all.

:class:`OutboxPublisher` writes to the library's transactional outbox (the relay
then publishes to the broker); :class:`CollectingPublisher` keeps committed
messages in memory for tests that look at a service alone.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from shop.contracts.base import aggregate_of, registry
from tidings import outbox
from tidings.messages import Envelope, Message, MessageRegistry
from tidings.storage.uow import UnitOfWork

M = TypeVar("M", bound=Message)


class Publisher(Protocol):
    async def publish(self, uow: UnitOfWork, message: Message) -> Envelope | None:
        """Publish ``message`` if and only if ``uow`` commits; its envelope, if it has one."""


class OutboxPublisher:
    """Writes each message to the service's outbox, keyed by the aggregate it is about."""

    def __init__(self, messages: MessageRegistry = registry) -> None:
        self.messages = messages

    async def publish(self, uow: UnitOfWork, message: Message) -> Envelope:
        aggregate_type, aggregate_id = aggregate_of(message)
        return await outbox.add(
            uow,
            self.messages,
            message,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            aggregate_version=getattr(message, "version", None),
        )


class CollectingPublisher:
    """Keeps the messages whose unit of work committed, in commit order."""

    def __init__(self) -> None:
        self.published: list[Message] = []

    async def publish(self, uow: UnitOfWork, message: Message) -> None:
        uow.after_commit(lambda: self.published.append(message))

    def of_type(self, kind: type[M]) -> list[M]:
        return [message for message in self.published if isinstance(message, kind)]
