"""What we publish on RabbitMQ and NATS, read back raw from the broker by the official
CloudEvents SDK's auto-detecting readers: every event comes back whole (structured
mode), never as binary mode with the envelope for data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aio_pika
import nats
import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import amqp as ce_amqp
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.bindings import rabbitmq as ce_rabbitmq
from cloudevents.core.formats.json import JSONFormat

from tidings.brokers.base import OutgoingMessage
from tidings.brokers.nats import NatsBroker
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.messages import Envelope, Event, MessageRegistry, decode, encode, headers_for
from tidings.outbox.claim import ClaimedRow
from tidings.testing.brokers import (
    BROKER_URLS,
    Recorder,
    TemporaryBrokers,
    temporary_brokers,
)

COUNT = 25
"""Messages per broker: several types, with and without a cause, some with old headers."""

registry = MessageRegistry()


@registry.register("interop.OrderPlaced", version=2)
class OrderPlaced(Event):
    order_id: str
    total: Decimal


@registry.register("interop.NotificationSent")
class NotificationSent(Event):
    notification_id: str


def envelopes() -> list[Envelope]:
    made: list[Envelope] = []
    for index in range(COUNT):
        cause = made[-1] if made and index % 2 else None
        message: Event = (
            OrderPlaced(order_id=f"o-{index}", total=Decimal(f"{index}.50"))
            if index % 3
            else NotificationSent(notification_id=f"n-{index}")
        )
        made.append(
            registry.envelope_for(
                message,
                source="interop-test",
                aggregate_type="order",
                aggregate_id=f"o-{index}",
                aggregate_version=index + 1,
                caused_by=cause,
            )
        )
    return made


def legacy_headers(envelope: Envelope) -> dict[str, str]:
    """What outbox rows written before this change hold: binary-mode-looking headers."""
    return {
        "ce-id": envelope.id,
        "ce-type": envelope.type,
        "ce-source": envelope.source,
        "ce-specversion": "1.0",
        "ce-correlationid": envelope.correlationid,
        "content-type": "application/cloudevents+json",
    }


def outgoing(envelope: Envelope, index: int) -> OutgoingMessage:
    """The message the relay publishes for the envelope's outbox row; every fourth row
    was written by an older version (binary-mode-looking headers)."""
    headers = headers_for(envelope)
    if index % 4 == 0:
        headers = {**legacy_headers(envelope), **headers}
    row = ClaimedRow(
        seq=index + 1,
        id=envelope.id,
        aggregatetype=envelope.aggregatetype or envelope.type,
        aggregateid=envelope.aggregateid or envelope.id,
        topic=envelope.type,
        payload=encode(envelope).decode(),
        headers=headers,
    )
    return row.outgoing()


def assert_same_event(event: BaseCloudEvent, envelope: Envelope) -> None:
    """Every attribute, extension and the data, exactly (not the envelope as data)."""
    assert event.get_id() == envelope.id
    assert event.get_source() == envelope.source
    assert event.get_type() == envelope.type
    assert event.get_subject() == envelope.subject
    assert event.get_time() == envelope.time
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data() == envelope.data
    standard = {"specversion", "id", "source", "type", "time", "subject", "datacontenttype"}
    attributes = event.get_attributes()
    extensions = {name: value for name, value in attributes.items() if name not in standard}
    expected = {
        "schemaversion": envelope.schemaversion,
        "aggregatetype": envelope.aggregatetype,
        "aggregateid": envelope.aggregateid,
        "aggregateversion": envelope.aggregateversion,
        "correlationid": envelope.correlationid,
        "causationid": envelope.causationid,
        "traceparent": envelope.traceparent,
        "tracestate": envelope.tracestate,
    }
    assert extensions == {name: value for name, value in expected.items() if value is not None}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.fixture
async def rabbit() -> AsyncIterator[TemporaryBrokers]:
    async with temporary_brokers("rabbitmq") as made:
        yield made


@pytest.fixture
async def jetstream() -> AsyncIterator[TemporaryBrokers]:
    async with temporary_brokers("nats") as made:
        yield made


@pytest.mark.rabbitmq
async def test_rabbitmq_messages_read_as_structured_cloudevents(
    rabbit: TemporaryBrokers,
) -> None:
    sent = envelopes()
    async with rabbit() as broker:
        assert isinstance(broker, RabbitMQBroker)
        await broker.declare_queue("raw", ["interop.*"])
        await broker.publish([outgoing(envelope, index) for index, envelope in enumerate(sent)])

    connection = await aio_pika.connect(BROKER_URLS["rabbitmq"])
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(broker.queue_name("raw"), passive=True)
        received = []
        while len(received) < COUNT:
            incoming = await queue.get(no_ack=False, fail=False, timeout=10)
            assert incoming is not None, f"only {len(received)} of {COUNT} messages arrived"
            received.append(incoming)
            await incoming.ack()
    by_id = {envelope.id: envelope for envelope in sent}
    for incoming in received:
        headers = {name: _text(value) for name, value in (incoming.headers or {}).items()}
        assert incoming.content_type == "application/cloudevents+json"
        assert not [name for name in headers if name.lower().startswith(("ce-", "ce_"))]
        assert "content-type" not in {name.lower() for name in headers}
        envelope = by_id[incoming.message_id or ""]
        readers = [
            ce_rabbitmq.from_rabbitmq(
                ce_rabbitmq.RabbitMQMessage(
                    headers=headers, content_type=incoming.content_type, body=incoming.body
                ),
                JSONFormat(),
            ),
            ce_amqp.from_amqp(
                ce_amqp.AMQPMessage(
                    properties={"content-type": incoming.content_type},
                    application_properties=dict(headers),
                    application_data=incoming.body,
                ),
                JSONFormat(),
            ),
            # An HTTP bridge forwarding the headers and the content type as they are.
            ce_http.from_http(
                ce_http.HTTPMessage(
                    headers={**headers, "content-type": incoming.content_type},
                    body=incoming.body,
                ),
                JSONFormat(),
            ),
        ]
        for event in readers:
            assert_same_event(event, envelope)


@pytest.mark.nats
async def test_nats_messages_read_as_structured_cloudevents(jetstream: TemporaryBrokers) -> None:
    sent = envelopes()
    async with jetstream() as broker:
        assert isinstance(broker, NatsBroker)
        # A bound queue keeps the messages in the interest-retention stream.
        await broker.declare_queue("raw", ["interop.*"])
        await broker.publish([outgoing(envelope, index) for index, envelope in enumerate(sent)])

    client = await nats.connect(servers=[BROKER_URLS["nats"]])
    try:
        js = client.jetstream()
        info = await js.stream_info(broker.stream)
        assert info.state.messages == COUNT
        raw_messages = [
            await js.get_msg(broker.stream, sequence)
            for sequence in range(info.state.first_seq, info.state.last_seq + 1)
        ]
    finally:
        await client.close()
    by_id = {envelope.id: envelope for envelope in sent}
    for raw in raw_messages:
        headers = {name: _text(value) for name, value in (raw.headers or {}).items()}
        assert headers["content-type"] == "application/cloudevents+json"
        assert not [name for name in headers if name.lower().startswith(("ce-", "ce_"))]
        envelope = by_id[headers["Nats-Msg-Id"]]
        body = raw.data or b""
        readers = [
            ce_http.from_http(ce_http.HTTPMessage(headers=headers, body=body), JSONFormat()),
            ce_kafka.from_kafka(
                ce_kafka.KafkaMessage(
                    headers={name: value.encode() for name, value in headers.items()},
                    key=None,
                    value=body,
                ),
                JSONFormat(),
            ),
        ]
        for event in readers:
            assert_same_event(event, envelope)


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("nats", marks=pytest.mark.nats),
    ],
)
async def test_our_subscribers_read_old_and_new_messages(kind: str) -> None:
    """Messages already on the broker when this version starts (published with the old
    binary-mode-looking headers) are read like new ones: consumers read the body."""
    sent = envelopes()[:8]
    in_flight = [
        OutgoingMessage(
            message_id=envelope.id,
            topic=envelope.type,
            body=encode(envelope),
            headers={**legacy_headers(envelope), **headers_for(envelope)},
        )
        for envelope in sent[:4]
    ]
    fresh = [outgoing(envelope, index) for index, envelope in enumerate(sent[4:], start=1)]
    async with temporary_brokers(kind) as brokers, brokers() as broker:
        recorder = Recorder()
        subscription = await broker.subscribe("ours", ["interop.*"], recorder)
        await broker.publish(in_flight + fresh)
        await recorder.wait_for(len(sent))
        await subscription.stop()
    assert sorted(decode(d.body).id for d in recorder.deliveries) == sorted(e.id for e in sent)
    for delivery in recorder.deliveries:
        assert decode(delivery.body) == next(e for e in sent if e.id == delivery.message_id)
