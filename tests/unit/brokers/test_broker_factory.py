"""broker_from_url: the URL scheme picks the adapter; nothing connects."""

from __future__ import annotations

import pytest

from tidings.brokers.factory import broker_from_url
from tidings.brokers.memory import MemoryBroker
from tidings.brokers.nats import NatsBroker
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.errors import BrokerNotSupported, ConfigurationError


def test_memory_urls_give_the_in_process_broker() -> None:
    volatile = broker_from_url("memory://")
    on_file = broker_from_url("memory:///var/lib/shop/broker.db", namespace="shop")
    relative = broker_from_url("memory://data/broker.db")
    assert isinstance(volatile, MemoryBroker)
    assert volatile.path is None
    assert isinstance(on_file, MemoryBroker)
    assert (on_file.path, on_file.namespace) == ("/var/lib/shop/broker.db", "shop")
    assert isinstance(relative, MemoryBroker)
    assert relative.path == "data/broker.db"


def test_server_urls_give_their_adapters() -> None:
    rabbit = broker_from_url("amqp://guest:guest@127.0.0.1:5672/", namespace="shop")
    jet = broker_from_url("nats://127.0.0.1:4222", namespace="shop")
    assert isinstance(rabbit, RabbitMQBroker)
    assert rabbit.namespace == "shop"
    assert isinstance(jet, NatsBroker)
    assert jet.url == "nats://127.0.0.1:4222"


@pytest.mark.parametrize("url", ["kafka://x:9092", "redis://x", "127.0.0.1:5672", ""])
def test_unknown_schemes_are_not_supported(url: str) -> None:
    with pytest.raises(BrokerNotSupported) as caught:
        broker_from_url(url)
    assert isinstance(caught.value, ConfigurationError)
