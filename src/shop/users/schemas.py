"""The shapes users' operations take and return (validated at the HTTP edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from shop.common.validation import Text, Version

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

Email = Annotated[str, Text(320, pattern=EMAIL_PATTERN)]
Name = Annotated[str, Text(200, min_length=1)]
Address = Annotated[str, Text(500)]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name
    address: Address | None = None


class UserChange(BaseModel):
    """A change to a user, based on the ``version`` the client read."""

    model_config = ConfigDict(extra="forbid")

    version: Version
    email: Email | None = None
    name: Name | None = None
    address: Address | None = None


class User(BaseModel):
    id: str
    email: str
    name: str
    address: str | None
    created_at: datetime
    updated_at: datetime
    version: int
