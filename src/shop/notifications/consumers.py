"""Notifications' consumer of SendNotification, behind the inbox: the inbox row and
the sent notification commit together, and the idempotency key stops a second
send of the same notification under another message id."""

from __future__ import annotations

from shop.contracts.base import registry
from shop.contracts.notifications import SendNotification
from shop.notifications.schemas import NewNotification
from shop.notifications.service import NotificationsService
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.storage.uow import UnitOfWork


def commands_consumer(service: NotificationsService) -> Consumer:
    consumer = Consumer("commands", service.database, registry)

    @consumer.handles(SendNotification)
    async def send(uow: UnitOfWork, command: SendNotification, envelope: Envelope) -> None:
        new = NewNotification(
            idempotency_key=command.idempotency_key,
            recipient=command.recipient,
            subject=command.subject,
            body=command.body,
        )
        await service.send_in(uow, new, service.publisher)

    return consumer
