"""The events users publishes (defined in :mod:`shop.contracts.users`)."""

from shop.contracts.users import EVENTS, UserDeleted, UserRegistered, UserUpdated

__all__ = ["EVENTS", "UserDeleted", "UserRegistered", "UserUpdated"]
