"""The command notifications takes and the event it publishes."""

from shop.contracts.notifications import (
    COMMANDS,
    EVENTS,
    NotificationSent,
    SendNotification,
)

__all__ = ["COMMANDS", "EVENTS", "NotificationSent", "SendNotification"]
