"""A consumer built on the CloudEvents Python SDK parses what we publish."""

from __future__ import annotations

from decimal import Decimal

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tidings.messages import Envelope, Event, MessageRegistry, decode, encode, headers_for


def published() -> Envelope:
    registry = MessageRegistry()

    @registry.register("orders.OrderPlaced", version=2)
    class OrderPlaced(Event):
        order_id: str
        total: Decimal

    cause = registry.envelope_for(
        OrderPlaced(order_id="o-0", total=Decimal(1)), source="orders", aggregate_id="o-0"
    )
    return registry.envelope_for(
        OrderPlaced(order_id="o-1", total=Decimal("9.90")),
        source="orders",
        aggregate_type="order",
        aggregate_id="o-1",
        aggregate_version=5,
        caused_by=cause,
    )


def test_sdk_reads_our_structured_json_with_extensions() -> None:
    envelope = published()
    event = JSONFormat().read(None, encode(envelope))
    assert isinstance(event, CloudEvent)  # the SDK validated it as a v1.0 event
    assert event.get_specversion() == "1.0"
    assert event.get_id() == envelope.id
    assert event.get_type() == "orders.OrderPlaced"
    assert event.get_source() == "orders"
    assert event.get_subject() == "o-1"
    assert event.get_time() == envelope.time
    assert event.get_data() == {"order_id": "o-1", "total": "9.90"}
    assert event.get_extension("aggregatetype") == "order"
    assert event.get_extension("aggregateid") == "o-1"
    assert event.get_extension("aggregateversion") == 5
    assert event.get_extension("schemaversion") == 2
    assert event.get_extension("correlationid") == envelope.correlationid
    assert event.get_extension("causationid") == envelope.causationid
    assert event.get_extension("traceparent") == envelope.traceparent


def test_sdk_reads_our_message_as_an_http_request() -> None:
    envelope = published()
    headers = {**headers_for(envelope), "content-type": "application/cloudevents+json"}
    message = ce_http.HTTPMessage(headers=headers, body=encode(envelope))
    event = ce_http.from_http(message, JSONFormat())
    assert event.get_id() == envelope.id
    assert event.get_extension("correlationid") == envelope.correlationid
    # Structured mode: the data is the event's data, not the whole envelope.
    assert event.get_data() == {"order_id": "o-1", "total": "9.90"}


def test_we_read_what_the_sdk_writes() -> None:
    event = CloudEvent(
        {
            "type": "orders.OrderPlaced",
            "source": "elsewhere",
            "subject": "o-9",
            "schemaversion": 2,
            "correlationid": "flow-9",
        },
        {"order_id": "o-9", "total": "1"},
    )
    envelope = decode(JSONFormat().write(event))
    assert envelope.id == event.get_id()
    assert envelope.schemaversion == 2
    assert envelope.correlationid == "flow-9"
    assert envelope.data == {"order_id": "o-9", "total": "1"}
