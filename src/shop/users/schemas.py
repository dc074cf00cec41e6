"""The shapes users' operations take and return (validated at the HTTP edge)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)


class UserChange(BaseModel):
    """A change to a user, based on the ``version`` the client read."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    email: str | None = Field(default=None, pattern=EMAIL_PATTERN, max_length=320)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)


class User(BaseModel):
    id: str
    email: str
    name: str
    address: str | None
    created_at: datetime
    updated_at: datetime
    version: int
