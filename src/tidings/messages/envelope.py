"""The wire form of every message: a CloudEvents 1.0 event in structured-mode JSON.

Our own attributes travel as CloudEvents extension attributes, whose names the
spec limits to lowercase letters and digits: ``schemaversion``, ``aggregatetype``,
``aggregateid``, ``aggregateversion``, ``correlationid``, ``causationid``, plus
``traceparent``/``tracestate`` from the CloudEvents distributed-tracing extension.
Any CloudEvents SDK reads what :func:`encode` writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from tidings.errors import MalformedMessage
from tidings.messages.tracing import TraceContext

SPECVERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"

#: Broker header names (see :func:`headers_for`). Only W3C trace context travels
#: beside the body: a ``ce-*`` header, or a ``content-type`` application header,
#: makes CloudEvents readers take a message for binary mode (body = data).
HEADER_TRACEPARENT = "traceparent"
HEADER_TRACESTATE = "tracestate"
HEADER_CONTENT_TYPE = "content-type"
#: Prefix of the binary-mode attribute headers that messages published before
#: structured mode was made explicit still carry (readers ignore them).
LEGACY_HEADER_PREFIX = "ce-"
_BINARY_MODE_PREFIXES = (LEGACY_HEADER_PREFIX, "ce_", "cloudevents:", "cloudevents_")

_REQUIRED = ("specversion", "id", "source", "type")


@dataclass(frozen=True)
class Envelope:
    """One message as a CloudEvents 1.0 event: context attributes plus ``data``.

    ``time`` is timezone-aware UTC. ``correlationid`` names the flow (the id of the
    message that started it), ``causationid`` the message that caused this one.
    """

    specversion: ClassVar[str] = SPECVERSION
    datacontenttype: ClassVar[str] = JSON_CONTENT_TYPE

    id: str
    source: str
    type: str
    time: datetime
    data: dict[str, Any]
    subject: str | None
    schemaversion: int
    aggregatetype: str | None
    aggregateid: str | None
    aggregateversion: int | None
    correlationid: str
    causationid: str | None
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def trace_context(self) -> TraceContext | None:
        if self.traceparent is None:
            return None
        return TraceContext(self.traceparent, self.tracestate)


def _rfc3339(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def to_dict(envelope: Envelope) -> dict[str, Any]:
    """The CloudEvents JSON object; absent optional attributes are left out, not null."""
    event: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "time": _rfc3339(envelope.time),
        "datacontenttype": JSON_CONTENT_TYPE,
        "schemaversion": envelope.schemaversion,
        "correlationid": envelope.correlationid,
    }
    optional = {
        "subject": envelope.subject,
        "aggregatetype": envelope.aggregatetype,
        "aggregateid": envelope.aggregateid,
        "aggregateversion": envelope.aggregateversion,
        "causationid": envelope.causationid,
        "traceparent": envelope.traceparent,
        "tracestate": envelope.tracestate,
    }
    event.update({name: value for name, value in optional.items() if value is not None})
    event["data"] = envelope.data
    return event


def encode(envelope: Envelope) -> bytes:
    """CloudEvents structured-mode JSON (``application/cloudevents+json``), UTF-8."""
    return json.dumps(to_dict(envelope), ensure_ascii=False, separators=(",", ":")).encode()


def decode(body: bytes | str) -> Envelope:
    """Parse CloudEvents structured-mode JSON.

    Raises :class:`~tidings.errors.MalformedMessage` when the body is not JSON, not
    an object, lacks ``specversion``/``id``/``source``/``type``/``time``, has a
    specversion other than 1.0, or an attribute of the wrong type.
    """
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedMessage(f"not JSON: {error}") from error
    if not isinstance(event, dict):
        raise MalformedMessage(f"a CloudEvent is a JSON object, not {type(event).__name__}")
    return from_dict(event)


def from_dict(event: dict[str, Any]) -> Envelope:
    """An envelope from a parsed CloudEvents JSON object (see :func:`decode`)."""
    for name in _REQUIRED:
        if not isinstance(event.get(name), str) or not event[name]:
            label = event.get("id") if isinstance(event.get("id"), str) else "?"
            raise MalformedMessage(f"CloudEvent {label}: missing or empty attribute {name!r}")
    message_id: str = event["id"]
    if event["specversion"] != SPECVERSION:
        raise MalformedMessage(
            f"CloudEvent {message_id}: specversion {event['specversion']!r}, expected 1.0"
        )
    content_type = event.get("datacontenttype", JSON_CONTENT_TYPE)
    if not isinstance(content_type, str) or "json" not in content_type:
        raise MalformedMessage(f"CloudEvent {message_id}: datacontenttype {content_type!r}")
    if "data_base64" in event:
        raise MalformedMessage(f"CloudEvent {message_id}: binary data (data_base64)")
    data = event.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MalformedMessage(f"CloudEvent {message_id}: data is not a JSON object")
    return Envelope(
        id=message_id,
        source=event["source"],
        type=event["type"],
        time=_time(message_id, event.get("time")),
        data=data,
        subject=_text(message_id, event, "subject"),
        schemaversion=_integer(message_id, event, "schemaversion") or 1,
        aggregatetype=_text(message_id, event, "aggregatetype"),
        aggregateid=_text(message_id, event, "aggregateid"),
        aggregateversion=_integer(message_id, event, "aggregateversion"),
        correlationid=_text(message_id, event, "correlationid") or message_id,
        causationid=_text(message_id, event, "causationid"),
        traceparent=_text(message_id, event, "traceparent"),
        tracestate=_text(message_id, event, "tracestate"),
    )


def _time(message_id: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise MalformedMessage(f"CloudEvent {message_id}: missing or non-text attribute 'time'")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedMessage(f"CloudEvent {message_id}: time {value!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise MalformedMessage(f"CloudEvent {message_id}: time {value!r} has no UTC offset")
    return moment.astimezone(UTC)


def _text(message_id: str, event: dict[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedMessage(f"CloudEvent {message_id}: attribute {name!r} is not text")
    return value


def _integer(message_id: str, event: dict[str, Any], name: str) -> int | None:
    value = event.get(name)
    if value is None:
        return None
    # Binary-mode transports turn every attribute into text; accept "3" as 3.
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedMessage(f"CloudEvent {message_id}: attribute {name!r} is not an integer")
    return value


def headers_for(envelope: Envelope) -> dict[str, str]:
    """Application headers for the broker: W3C ``traceparent``/``tracestate`` (if any).

    Everything else is in the body. The structured-mode content type
    (``application/cloudevents+json``) is set by each broker adapter where its
    protocol keeps it (AMQP's ``content_type`` property, a NATS ``content-type``
    header); see :func:`is_binary_mode_header`.
    """
    headers: dict[str, str] = {}
    if envelope.traceparent is not None:
        headers[HEADER_TRACEPARENT] = envelope.traceparent
    if envelope.tracestate is not None:
        headers[HEADER_TRACESTATE] = envelope.tracestate
    return headers


def without_binary_mode_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` without those that would make a CloudEvents reader take a
    structured-mode body for binary mode (see :func:`is_binary_mode_header`).

    For outbox rows and dead letters written by versions that still sent them.
    """
    return {name: value for name, value in headers.items() if not is_binary_mode_header(name)}


def is_binary_mode_header(name: str) -> bool:
    """Whether header ``name`` would make a CloudEvents reader see binary mode.

    ``ce-*`` / ``ce_*`` (any case: HTTP, NATS, RabbitMQ, Kafka spellings) and
    ``cloudEvents:*`` / ``cloudEvents_*`` (AMQP 1.0 spellings) carry attributes; a
    ``content-type`` application header is the binary-mode data's media type.
    Adapters drop them from what they publish (outbox rows written by older
    versions still carry them).
    """
    lowered = name.lower()
    return lowered.startswith(_BINARY_MODE_PREFIXES) or lowered == HEADER_CONTENT_TYPE
