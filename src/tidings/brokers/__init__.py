"""Brokers: one port (:mod:`tidings.brokers.base`), three adapters, one conformance suite.

``broker_from_url("memory://")`` is the embedded default; ``amqp://...`` gives
RabbitMQ and ``nats://...`` NATS JetStream. Adapters are imported when first
used, so importing this package loads no client library.
"""

from __future__ import annotations

from tidings.brokers.base import Broker, Delivery, Handler, OutgoingMessage, Subscription
from tidings.brokers.dead_letters import DeadLetter, DeadLetterInspector
from tidings.brokers.factory import broker_from_url

__all__ = [
    "Broker",
    "DeadLetter",
    "DeadLetterInspector",
    "Delivery",
    "Handler",
    "OutgoingMessage",
    "Subscription",
    "broker_from_url",
]
