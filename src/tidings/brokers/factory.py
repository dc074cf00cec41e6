"""Choosing the broker adapter from the broker URL (``TIDINGS_BROKER_URL``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tidings.brokers.base import Broker
from tidings.errors import BrokerNotSupported

SCHEMES = ("memory", "amqp", "amqps", "nats", "tls")


def broker_from_url(url: str, *, namespace: str = "tidings") -> Broker:
    """The unconnected broker for ``url``.

    ``memory://`` (in-process, volatile), ``memory:///path/broker.db`` (in-process,
    kept in a SQLite file), ``amqp://`` or ``amqps://`` (RabbitMQ), ``nats://`` or
    ``tls://`` (NATS JetStream; several servers comma-separated). Anything else
    raises :class:`~tidings.errors.BrokerNotSupported`. Adapters are imported here,
    on demand, so a service on one broker never imports the other clients.
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme == "memory":
        from tidings.brokers.memory import MemoryBroker

        return MemoryBroker(url, namespace=namespace)
    if scheme in ("amqp", "amqps"):
        from tidings.brokers.rabbitmq import RabbitMQBroker

        return RabbitMQBroker(url, namespace=namespace)
    if scheme in ("nats", "tls"):
        from tidings.brokers.nats import NatsBroker

        return NatsBroker(url, namespace=namespace)
    raise BrokerNotSupported(
        f"broker URL {url!r}: unknown scheme {scheme!r}; use one of "
        + ", ".join(f"{s}://" for s in SCHEMES)
    )
