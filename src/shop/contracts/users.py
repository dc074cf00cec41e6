"""What the users service tells others: who registered, who changed."""

from __future__ import annotations

from typing import ClassVar

from shop.contracts.base import ShopEvent, registry
from tidings.messages import Message


@registry.register("users.UserRegistered")
class UserRegistered(ShopEvent):
    aggregate_type: ClassVar[str] = "user"
    aggregate_key: ClassVar[str] = "user_id"

    user_id: str
    email: str
    name: str
    version: int


@registry.register("users.UserUpdated")
class UserUpdated(ShopEvent):
    aggregate_type: ClassVar[str] = "user"
    aggregate_key: ClassVar[str] = "user_id"

    user_id: str
    email: str
    name: str
    version: int


@registry.register("users.UserDeleted")
class UserDeleted(ShopEvent):
    aggregate_type: ClassVar[str] = "user"
    aggregate_key: ClassVar[str] = "user_id"

    user_id: str
    version: int


EVENTS: tuple[type[Message], ...] = (UserRegistered, UserUpdated, UserDeleted)
