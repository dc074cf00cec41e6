from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tidings.errors import InvalidMessage, UnknownMessageType
from tidings.messages import Command, Envelope, Event, MessageRegistry, decode, encode


def make_registry() -> tuple[MessageRegistry, type[Event], type[Command]]:
    registry = MessageRegistry()

    @registry.register("orders.OrderPlaced", version=3)
    class OrderPlaced(Event):
        order_id: str
        total: Decimal
        currency: str

    @registry.register("inventory.ReserveStock")
    class ReserveStock(Command):
        sku: str
        quantity: int

    @registry.upcaster("orders.OrderPlaced", from_version=1)
    def amount_to_total(data: dict[str, Any]) -> dict[str, Any]:
        data["total"] = data.pop("amount")
        return data

    @registry.upcaster("orders.OrderPlaced", from_version=2)
    def add_currency(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "currency": data.get("currency", "EUR")}

    return registry, OrderPlaced, ReserveStock


def test_messages_are_frozen() -> None:
    _registry, order_placed, _ = make_registry()
    message = order_placed(order_id="o-1", total=Decimal("9.50"), currency="EUR")
    with pytest.raises(ValidationError):
        message.order_id = "o-2"  # type: ignore[misc]


def test_type_names_and_versions() -> None:
    registry, order_placed, reserve_stock = make_registry()
    assert registry.type_name_of(order_placed) == "orders.OrderPlaced"
    assert registry.type_name_of(reserve_stock(sku="a", quantity=1)) == "inventory.ReserveStock"
    assert registry.version_of(order_placed) == 3
    assert registry.type_names == ["inventory.ReserveStock", "orders.OrderPlaced"]


def test_unregistered_model_is_unknown() -> None:
    registry, _, _ = make_registry()

    class Stray(Event):
        pass

    with pytest.raises(UnknownMessageType, match="Stray"):
        registry.type_name_of(Stray)


def test_one_model_per_type_name() -> None:
    registry, _, _ = make_registry()
    with pytest.raises(ValueError, match="already registered"):

        @registry.register("orders.OrderPlaced", version=4)
        class Other(Event):
            pass


def test_round_trip_through_the_wire() -> None:
    registry, order_placed, _ = make_registry()
    message = order_placed(order_id="o-1", total=Decimal("9.50"), currency="EUR")
    envelope = registry.envelope_for(
        message, source="orders", aggregate_type="order", aggregate_id="o-1", aggregate_version=4
    )
    again = decode(encode(envelope))
    assert again == envelope
    assert registry.load(again) == message
    assert envelope.schemaversion == 3
    assert envelope.subject == "o-1"
    assert envelope.time.tzinfo is UTC


def test_new_flow_correlates_to_itself() -> None:
    registry, order_placed, _ = make_registry()
    envelope = registry.envelope_for(
        order_placed(order_id="o-1", total=Decimal(1), currency="EUR"), source="orders"
    )
    assert envelope.correlationid == envelope.id
    assert envelope.causationid is None


def test_caused_message_keeps_the_flow() -> None:
    registry, order_placed, reserve_stock = make_registry()
    first = registry.envelope_for(
        order_placed(order_id="o-1", total=Decimal(1), currency="EUR"), source="orders"
    )
    second = registry.envelope_for(
        reserve_stock(sku="a", quantity=2), source="orders", caused_by=first
    )
    third = registry.envelope_for(reserve_stock(sku="b", quantity=1), source="x", caused_by=second)
    assert (second.correlationid, second.causationid) == (first.id, first.id)
    assert (third.correlationid, third.causationid) == (first.id, second.id)
    explicit = registry.envelope_for(
        reserve_stock(sku="a", quantity=2),
        source="orders",
        correlation_id="flow-7",
        causation_id="msg-3",
        message_id="fixed-id",
    )
    assert (explicit.id, explicit.correlationid, explicit.causationid) == (
        "fixed-id",
        "flow-7",
        "msg-3",
    )


def _old_envelope(version: int, data: dict[str, Any]) -> Envelope:
    registry, order_placed, _ = make_registry()
    current = registry.envelope_for(
        order_placed(order_id="o-1", total=Decimal(1), currency="EUR"), source="orders"
    )
    return Envelope(
        id="e-1",
        source="orders",
        type="orders.OrderPlaced",
        time=current.time,
        data=data,
        subject=None,
        schemaversion=version,
        aggregatetype=None,
        aggregateid=None,
        aggregateversion=None,
        correlationid="e-1",
        causationid=None,
    )


def test_upcasters_chain_from_version_one() -> None:
    registry, order_placed, _ = make_registry()
    original = {"order_id": "o-1", "amount": "12.00"}
    loaded = registry.load(_old_envelope(1, original))
    assert loaded == order_placed(order_id="o-1", total=Decimal("12.00"), currency="EUR")
    assert original == {"order_id": "o-1", "amount": "12.00"}, "upcasters work on a copy"


def test_upcast_from_middle_version() -> None:
    registry, order_placed, _ = make_registry()
    loaded = registry.load(_old_envelope(2, {"order_id": "o-1", "total": "3"}))
    assert loaded == order_placed(order_id="o-1", total=Decimal(3), currency="EUR")


def test_version_from_the_future_is_unknown() -> None:
    registry, _, _ = make_registry()
    with pytest.raises(UnknownMessageType, match="v4"):
        registry.load(_old_envelope(4, {}))


def test_missing_upcaster_is_unknown() -> None:
    registry = MessageRegistry()

    @registry.register("x.Thing", version=2)
    class Thing(Event):
        name: str

    with pytest.raises(UnknownMessageType, match="no upcaster from v1"):
        registry.upcast("x.Thing", 1, {"name": "a"})


def test_failing_upcaster_is_invalid() -> None:
    registry, _, _ = make_registry()
    with pytest.raises(InvalidMessage, match="upcasting v1 to v2"):
        registry.load(_old_envelope(1, {"order_id": "o-1"}))


def test_unknown_type_name() -> None:
    registry, _, _ = make_registry()
    envelope = _old_envelope(1, {})
    with pytest.raises(UnknownMessageType, match=r"orders\.Nope"):
        registry.load(
            Envelope(**{**envelope.__dict__, "type": "orders.Nope"})  # type: ignore[arg-type]
        )


def test_invalid_data_names_the_field() -> None:
    registry, _, _ = make_registry()
    envelope = _old_envelope(3, {"order_id": "o-1", "total": "not a number", "currency": "EUR"})
    with pytest.raises(InvalidMessage, match="'total'") as raised:
        registry.load(envelope)
    assert "e-1" in str(raised.value)
    with pytest.raises(InvalidMessage, match="'currency'"):
        registry.load(_old_envelope(3, {"order_id": "o-1", "total": "1"}))
