from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tidings.errors import MalformedMessage
from tidings.messages import Envelope, decode, encode, headers_for
from tidings.messages.envelope import is_binary_mode_header


def envelope(**changes: Any) -> Envelope:
    values: dict[str, Any] = {
        "id": "3f6c0d3e-0000-4000-8000-000000000001",
        "source": "orders",
        "type": "orders.OrderPlaced",
        "time": datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        "data": {"order_id": "o-1", "lines": [{"sku": "a", "quantity": 2}], "note": "café"},
        "subject": "o-1",
        "schemaversion": 2,
        "aggregatetype": "order",
        "aggregateid": "o-1",
        "aggregateversion": 7,
        "correlationid": "flow-1",
        "causationid": "cause-1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "vendor=1",
    }
    values.update(changes)
    return Envelope(**values)


def test_encode_is_structured_cloudevents_json() -> None:
    event = json.loads(encode(envelope()))
    assert event["specversion"] == "1.0"
    assert event["datacontenttype"] == "application/json"
    assert event["time"] == "2026-01-02T03:04:05.123456Z"
    assert event["aggregateversion"] == 7
    assert event["schemaversion"] == 2
    assert event["data"]["note"] == "café"
    extensions = set(event) - {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "datacontenttype",
        "subject",
        "data",
    }
    assert all(name.isalnum() and name.islower() for name in extensions), extensions


def test_absent_attributes_are_left_out() -> None:
    plain = envelope(
        subject=None,
        aggregatetype=None,
        aggregateid=None,
        aggregateversion=None,
        causationid=None,
        traceparent=None,
        tracestate=None,
    )
    event = json.loads(encode(plain))
    assert "subject" not in event
    assert "causationid" not in event
    assert None not in event.values()
    assert decode(encode(plain)) == plain


def test_round_trip() -> None:
    assert decode(encode(envelope())) == envelope()


def test_time_is_utc_after_decode() -> None:
    body = json.loads(encode(envelope()))
    body["time"] = "2026-01-02T05:04:05+02:00"
    assert decode(json.dumps(body).encode()).time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_defaults_for_foreign_cloudevents() -> None:
    minimal = {
        "specversion": "1.0",
        "id": "x-1",
        "source": "elsewhere",
        "type": "t",
        "time": "2026-01-01T00:00:00Z",
    }
    decoded = decode(json.dumps(minimal).encode())
    assert decoded.schemaversion == 1
    assert decoded.correlationid == "x-1"
    assert decoded.data == {}
    assert decoded.aggregateid is None


def test_text_integers_from_binary_mode_are_accepted() -> None:
    body = json.loads(encode(envelope()))
    body["schemaversion"] = "3"
    assert decode(json.dumps(body).encode()).schemaversion == 3


VALID = {
    "specversion": "1.0",
    "id": "i",
    "source": "s",
    "type": "t",
    "time": "2026-01-01T00:00:00Z",
}
REMOVE = object()


def body_with(**changes: Any) -> bytes:
    event = {**VALID, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not REMOVE}).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
        (body_with(id=REMOVE), "'id'"),
        (body_with(id=""), "'id'"),
        (body_with(id=7), "'id'"),
        (body_with(source=REMOVE), "'source'"),
        (body_with(type=REMOVE), "'type'"),
        (body_with(specversion=REMOVE), "'specversion'"),
        (body_with(specversion="0.3"), "specversion"),
        (body_with(time=REMOVE), "'time'"),
        (body_with(time="yesterday"), "RFC 3339"),
        (body_with(time="2026-01-01T00:00:00"), "offset"),
        (body_with(data=[1]), "data"),
        (body_with(data_base64="AA=="), "binary"),
        (body_with(datacontenttype="text/plain"), "datacontenttype"),
        (body_with(schemaversion="two"), "schemaversion"),
        (body_with(aggregateversion=True), "aggregateversion"),
        (body_with(aggregateid=5), "aggregateid"),
    ],
)
def test_malformed_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        decode(body)


def test_headers_carry_trace_context_and_nothing_a_reader_takes_for_binary_mode() -> None:
    headers = headers_for(envelope())
    assert headers == {"traceparent": envelope().traceparent, "tracestate": "vendor=1"}
    assert not any(is_binary_mode_header(name) for name in headers)
    assert headers_for(envelope(traceparent=None, tracestate=None)) == {}


@pytest.mark.parametrize(
    ("name", "binary"),
    [
        ("ce-id", True),
        ("Ce-Type", True),
        ("ce_source", True),
        ("cloudEvents:id", True),
        ("cloudEvents_type", True),
        ("content-type", True),
        ("Content-Type", True),
        ("traceparent", False),
        ("tidings-ordering-key", False),
        ("Nats-Msg-Id", False),
    ],
)
def test_binary_mode_headers(name: str, binary: bool) -> None:
    assert is_binary_mode_header(name) is binary
