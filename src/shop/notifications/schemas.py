"""The shapes notifications' operations take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from shop.common.validation import Text


class NewNotification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: Annotated[str, Text(200, min_length=1)]
    recipient: Annotated[str, Text(320, min_length=3)]
    subject: Annotated[str, Text(200, min_length=1)]
    body: Annotated[str, Text(10000)] = ""
    channel: Annotated[str, Text(20, pattern=r"^(email|sms)$")] = "email"


class Notification(BaseModel):
    id: str
    idempotency_key: str
    recipient: str
    channel: str
    subject: str
    body: str
    sent_at: datetime
