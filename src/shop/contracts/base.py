"""The base of every shop message, and the registry that names them all.

Every contract is a :class:`tidings.messages.Event` or :class:`~tidings.messages.Command`
registered in :data:`registry` under ``<service>.<Name>`` (its broker topic). It
also says which aggregate it is about, so the outbox keeps one aggregate's
messages in order: ``aggregate_type`` and the field holding the id.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from tidings.messages import Command, Event, Message, MessageRegistry

registry = MessageRegistry()
"""Every message the shop's services exchange."""


class _Aggregated:
    aggregate_type: ClassVar[str]
    aggregate_key: ClassVar[str]
    """The name of the field that holds the aggregate's id."""


class ShopEvent(Event, _Aggregated):
    """Something that happened in one service, for any others to react to."""


class ShopCommand(Command, _Aggregated):
    """A request one service (the order saga) makes of exactly one other."""


Contract = ShopEvent | ShopCommand


def aggregate_of(message: Message) -> tuple[str, str]:
    """``(aggregate type, aggregate id)`` of a shop message."""
    if not isinstance(message, ShopEvent | ShopCommand):
        raise TypeError(f"{type(message).__name__} is not a shop contract")
    return message.aggregate_type, str(getattr(message, message.aggregate_key))


class Line(BaseModel):
    """One product and quantity in an order, a reservation or a sale."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    quantity: int
    unit_price_cents: int = 0
