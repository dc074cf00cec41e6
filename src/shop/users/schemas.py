"""The shapes users' operations take and return (validated at the HTTP edge)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PASSWORD_MIN, PASSWORD_MAX = 8, 1024


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


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
    role: str = "customer"
    created_at: datetime
    updated_at: datetime
    version: int


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class Token(BaseModel):
    """A bearer token for the other services' APIs (OAuth 2 token response fields)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user_id: str
    role: str
