"""The shapes notifications' operations take and return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NewNotification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=1, max_length=200)
    recipient: str = Field(min_length=3, max_length=320)
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=10000)
    channel: str = Field(default="email", pattern=r"^(email|sms)$")


class Notification(BaseModel):
    id: str
    idempotency_key: str
    recipient: str
    channel: str
    subject: str
    body: str
    sent_at: datetime
