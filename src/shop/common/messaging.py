"""Answering a command: the reply goes out through the participant's outbox, in the
consumer's unit of work, and names the command it answers (how a saga finds its step)."""

from __future__ import annotations

from shop.contracts.base import registry
from tidings.messages import Envelope, Message, MessageRegistry
from tidings.sagas import send_reply
from tidings.storage.uow import UnitOfWork


class ReplyPublisher:
    """A :class:`~shop.common.publishing.Publisher` whose messages answer ``to``."""

    def __init__(self, to: Envelope, messages: MessageRegistry = registry) -> None:
        self.to = to
        self.messages = messages

    async def publish(self, uow: UnitOfWork, message: Message) -> Envelope:
        return await send_reply(uow, self.messages, message, to=self.to)
