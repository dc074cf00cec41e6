"""The in-process broker: the conformance suite (volatile and on a file) and its own guarantees."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tidings.brokers.base import Broker, Delivery
from tidings.brokers.memory import MemoryBroker
from tidings.errors import BrokerUnavailable, ConfigurationError, PublishNotConfirmed
from tidings.testing.brokers import BrokerConformance, Recorder, eventually, message


class TestVolatileMemoryBroker(BrokerConformance):
    async def create_broker(self) -> Broker:
        return MemoryBroker("memory://")

    async def create_unreachable_broker(self) -> Broker:
        return MemoryBroker("memory:///nonexistent-dir/deeper/broker.db")


class TestFileMemoryBroker(BrokerConformance):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    async def create_broker(self) -> Broker:
        return MemoryBroker(f"memory://{self.folder}/broker.db")

    async def create_unreachable_broker(self) -> Broker:
        return MemoryBroker(f"memory://{self.folder}/missing/broker.db")


async def test_undelivered_messages_survive_a_restart(tmp_path: Path) -> None:
    url = f"memory://{tmp_path}/broker.db"
    sent = [message("order.Placed", i, headers={"i": str(i)}) for i in range(3)]
    async with MemoryBroker(url) as broker:
        await broker.declare_queue("orders", ["order.*"])
        await broker.publish(sent)
        held = Recorder(settle=_hold)
        await broker.subscribe("orders", ["order.*"], held)
        await held.wait_for(3)
        await held.deliveries[0].ack()
    # The process "died" with two deliveries unsettled: they come back, counted.
    async with MemoryBroker(url) as broker:
        recorder = Recorder()
        subscription = await broker.subscribe("orders", ["order.*"], recorder)
        await recorder.wait_for(2)
        await subscription.stop()
    assert recorder.ids == [m.message_id for m in sent[1:]]
    assert [d.attempt for d in recorder.deliveries] == [2, 2]
    assert dict(recorder.deliveries[0].headers) == {"i": "1"}


CRASHING_PUBLISHER = """
import asyncio, os, sys
from tidings.brokers.base import OutgoingMessage
from tidings.brokers.memory import MemoryBroker

async def main():
    broker = MemoryBroker(sys.argv[1])
    await broker.connect()
    await broker.declare_queue("orders", ["order.*"])
    await broker.publish([OutgoingMessage(f"m{i}", "order.Placed", b"x") for i in range(3)])
    taken = asyncio.Event()
    async def take(delivery):
        if delivery.message_id == "m0":
            await delivery.ack()
        taken.set()
    await broker.subscribe("orders", ["order.*"], take)
    await taken.wait()
    await asyncio.sleep(0.2)  # let the ack commit before the "crash"
    os._exit(0)  # die without closing anything

asyncio.run(main())
"""


async def test_a_crashed_process_delivers_its_messages_after_restart(tmp_path: Path) -> None:
    url = f"memory://{tmp_path}/broker.db"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", CRASHING_PUBLISHER, url)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    async with MemoryBroker(url) as broker:
        recorder = Recorder()
        subscription = await broker.subscribe("orders", ["order.*"], recorder)
        await recorder.wait_for(2)
        await subscription.stop()
    assert recorder.ids == ["m1", "m2"]
    assert all(d.attempt == 2 for d in recorder.deliveries)


async def test_a_volatile_broker_forgets_everything() -> None:
    async with MemoryBroker() as broker:
        await broker.declare_queue("q", ["t"])
        await broker.publish([message("t")])
    async with MemoryBroker() as broker:
        recorder = Recorder()
        await broker.declare_queue("q", ["t"])
        marker = message("t", 1)
        await broker.publish([marker])
        subscription = await broker.subscribe("q", ["t"], recorder)
        await recorder.wait_for(1)
        await subscription.stop()
    assert recorder.ids == [marker.message_id]


async def test_bindings_and_dead_letters_survive_a_restart(tmp_path: Path) -> None:
    url = f"memory://{tmp_path}/broker.db"
    async with MemoryBroker(url) as broker:
        rejecter = Recorder(settle=lambda d: d.reject("bad"))
        subscription = await broker.subscribe("q", ["a.*"], rejecter)
        await broker.publish([message("a.X")])
        await rejecter.wait_for(1)
        await eventually(lambda: rejecter.deliveries[0].settled, what="the reject")  # type: ignore[attr-defined]
        await subscription.stop()
    async with MemoryBroker(url) as broker:
        await broker.publish([message("a.Y")])  # routed: the binding was kept
        recorder = Recorder()
        subscription = await broker.subscribe("q", ["a.*"], recorder)
        await recorder.wait_for(1)
        await subscription.stop()
        dead = await broker.dead_letters("q")
    assert [d.reason for d in dead] == ["bad"]
    assert [d.topic for d in recorder.deliveries] == ["a.Y"]


async def test_brokers_on_the_same_url_share_queues() -> None:
    async with (
        MemoryBroker(namespace="shared") as consumer,
        MemoryBroker(namespace="shared") as publisher,
    ):
        recorder = Recorder()
        subscription = await consumer.subscribe("q", ["t"], recorder)
        sent = message("t")
        await publisher.publish([sent])
        await recorder.wait_for(1)
        await subscription.stop()
        async with MemoryBroker(namespace="other") as stranger:
            await stranger.publish([message("t")])  # another namespace: no queue there
    assert recorder.ids == [sent.message_id]


SECOND_PROCESS = """
import asyncio, sys
from tidings.brokers.memory import MemoryBroker
from tidings.errors import BrokerUnavailable

async def main():
    try:
        async with MemoryBroker(sys.argv[1]):
            pass
    except BrokerUnavailable:
        sys.exit(3)

asyncio.run(main())
"""


async def test_a_file_is_used_by_one_process_at_a_time(tmp_path: Path) -> None:
    url = f"memory://{tmp_path}/broker.db"
    async with MemoryBroker(url) as broker:
        await broker.declare_queue("q", ["t"])
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", SECOND_PROCESS, url)
        assert await asyncio.wait_for(process.wait(), 30) == 3


async def test_mandatory_publish_without_a_queue_is_not_confirmed() -> None:
    async with MemoryBroker(mandatory=True) as broker:
        with pytest.raises(PublishNotConfirmed):
            await broker.publish([message("nobody.Home")])
        await broker.declare_queue("q", ["nobody.*"])
        await broker.publish([message("nobody.Home")])


async def test_max_deliveries_dead_letters_a_message_that_keeps_failing() -> None:
    async def always_fail(_delivery: Delivery) -> None:
        raise RuntimeError("poison (expected in this test)")

    async with MemoryBroker(max_deliveries=2) as broker:
        recorder = Recorder(settle=always_fail)
        subscription = await broker.subscribe("q", ["t"], recorder)
        sent = message("t")
        await broker.publish([sent])
        dead: list[object] = []

        async def poll() -> None:
            dead[:] = await broker.dead_letters("q")

        for _ in range(300):
            await poll()
            if dead:
                break
            await _tick()
        await subscription.stop()
    assert [d.attempt for d in recorder.deliveries] == [1, 2]
    assert len(dead) == 1
    assert "2 times" in dead[0].reason  # type: ignore[attr-defined]


async def test_using_a_broker_before_connecting_is_unavailable() -> None:
    broker = MemoryBroker()
    with pytest.raises(BrokerUnavailable):
        await broker.publish([message("t")])


async def test_bad_names_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        MemoryBroker(namespace="has.dot")
    async with MemoryBroker() as broker:
        with pytest.raises(ConfigurationError):
            await broker.declare_queue("q", "not-a-list")
        with pytest.raises(ConfigurationError):
            await broker.publish([message("has.*.wildcard")])


async def _hold(_delivery: Delivery) -> None:
    """Leave the delivery unsettled."""


async def _tick() -> None:
    await asyncio.sleep(0.01)
