"""Business refusals the HTTP shell maps to status codes (library errors map too)."""

from __future__ import annotations


class ShopError(Exception):
    """A request the service understood and refuses."""


class Conflict(ShopError):
    """The request contradicts the current state (a 409): refunding a declined payment."""


class Unprocessable(ShopError):
    """The body is well-formed but names something unusable (a 422 naming ``field``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)
