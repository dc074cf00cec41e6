"""The shapes users' operations take and return (validated at the HTTP edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from shop.common.validation import Text, Version

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PASSWORD_MIN, PASSWORD_MAX = 8, 1024

Email = Annotated[str, Text(320, pattern=EMAIL_PATTERN)]
Name = Annotated[str, Text(200, min_length=1)]
Address = Annotated[str, Text(500)]
Password = Annotated[str, Text(PASSWORD_MAX, min_length=PASSWORD_MIN)]
"""Bounded above like every text the shop takes, so no request carries megabytes
into the password hasher."""


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name
    address: Address | None = None
    password: Password


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
    role: str = "customer"
    created_at: datetime
    updated_at: datetime
    version: int


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Looser than registration's (any old account's spelling logs in), but bounded
    # and NUL-free like every other text the shop takes.
    email: Annotated[str, Text(320, min_length=1)]
    password: Annotated[str, Text(PASSWORD_MAX, min_length=1)]


class Token(BaseModel):
    """A bearer token for the other services' APIs (OAuth 2 token response fields)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user_id: str
    role: str
