"""``tidings db drop``'s broker part: everything a namespace owns on RabbitMQ or NATS is
removed, whichever broker instance declared it, and only what existed is reported."""

from __future__ import annotations

import pytest

from tidings.brokers.topology import remove_namespace
from tidings.testing.brokers import BROKER_URLS, Recorder, message, temporary_brokers


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("nats", marks=pytest.mark.nats),
    ],
)
async def test_remove_namespace_removes_what_two_brokers_declared(kind: str) -> None:
    async with temporary_brokers(kind) as brokers:
        namespace = brokers.namespace
        # Two processes, each declaring its own queue: the remover knows neither.
        async with brokers() as first, brokers() as second:
            await first.declare_queue("orders.replies", ["payments.*"])
            subscription = await second.subscribe("search.catalog", ["catalog.*"], Recorder())
            await first.publish([message("catalog.ProductAdded")])
            await subscription.stop()

        removed = await remove_namespace(BROKER_URLS[kind], namespace)

        if kind == "rabbitmq":
            assert sorted(removed) == sorted(
                [
                    f"queue {namespace}.orders.replies",
                    f"queue {namespace}.orders.replies.dead",
                    f"queue {namespace}.search.catalog",
                    f"queue {namespace}.search.catalog.dead",
                    f"queue {namespace}:queues",
                    f"exchange {namespace}",
                    f"exchange {namespace}.dlx",
                ]
            )
        else:
            assert sorted(removed) == [f"stream {namespace}", f"stream {namespace}-dlq"]
        assert await remove_namespace(BROKER_URLS[kind], namespace) == []


async def test_a_volatile_in_process_broker_leaves_nothing_to_remove() -> None:
    assert await remove_namespace("memory://", "tidings_nothing") == []
