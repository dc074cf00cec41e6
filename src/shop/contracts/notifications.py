"""The command that asks notifications to tell a customer something, exactly once."""

from __future__ import annotations

from typing import ClassVar

from shop.contracts.base import ShopCommand, ShopEvent, registry
from tidings.messages import Message


@registry.register("notifications.SendNotification")
class SendNotification(ShopCommand):
    aggregate_type: ClassVar[str] = "notification"
    aggregate_key: ClassVar[str] = "idempotency_key"

    idempotency_key: str
    """Sends with the same key after the first are no-ops."""
    recipient: str
    subject: str
    body: str


@registry.register("notifications.NotificationSent")
class NotificationSent(ShopEvent):
    aggregate_type: ClassVar[str] = "notification"
    aggregate_key: ClassVar[str] = "idempotency_key"

    notification_id: str
    idempotency_key: str
    recipient: str


COMMANDS: tuple[type[Message], ...] = (SendNotification,)
EVENTS: tuple[type[Message], ...] = (NotificationSent,)
