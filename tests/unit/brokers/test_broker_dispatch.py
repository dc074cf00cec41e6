"""The shared handler runner and windowed publishing, with fake deliveries."""

from __future__ import annotations

import asyncio

from tidings.brokers._dispatch import HandlerRunner, SettlingDelivery, public_headers
from tidings.brokers._publishing import chains, publish_windowed
from tidings.brokers.base import Delivery, OutgoingMessage
from tidings.testing.brokers import eventually


class FakeDelivery(SettlingDelivery):
    def __init__(self, message_id: str, key: str | None = None, attempt: int = 1) -> None:
        super().__init__(
            message_id=message_id,
            topic="t",
            body=b"",
            headers={},
            attempt=attempt,
            ordering_key=key,
        )
        self.outcome: tuple[str, object] | None = None

    async def _ack(self) -> None:
        self.outcome = ("ack", None)

    async def _nack(self, delay: float) -> None:
        self.outcome = ("nack", delay)

    async def _reject(self, reason: str) -> None:
        self.outcome = ("reject", reason)


async def test_one_key_is_handled_in_order_while_keys_interleave() -> None:
    log: list[str] = []
    gate = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        if delivery.message_id == "a1":
            await gate.wait()  # a slow first message of key a must hold back a2, not b1
        log.append(delivery.message_id)
        await delivery.ack()

    runner = HandlerRunner(handler, name="test")
    for message_id, key in [("a1", "a"), ("a2", "a"), ("b1", "b")]:
        runner.submit(FakeDelivery(message_id, key))
    await eventually(lambda: log == ["b1"], what="b1 first")
    gate.set()
    await eventually(lambda: log == ["b1", "a1", "a2"], what="a1 then a2")
    assert await runner.stop() == []


async def test_a_raising_handler_nacks_with_backoff_and_a_settled_one_stays_settled() -> None:
    async def handler(delivery: Delivery) -> None:
        if delivery.message_id == "acked-then-raised":
            await delivery.ack()
        raise RuntimeError("expected in this test")

    runner = HandlerRunner(handler, name="test")
    plain, acked = FakeDelivery("plain", attempt=3), FakeDelivery("acked-then-raised")
    runner.submit(plain)
    runner.submit(acked)
    await eventually(lambda: plain.outcome is not None and acked.outcome is not None)
    assert plain.outcome == ("nack", 0.4)
    assert acked.outcome == ("ack", None)


async def test_deliveries_past_the_limit_are_rejected_without_running_the_handler() -> None:
    handled: list[str] = []

    async def handler(delivery: Delivery) -> None:
        handled.append(delivery.message_id)

    runner = HandlerRunner(handler, name="test", max_deliveries=3)
    late = FakeDelivery("late", attempt=4)
    runner.submit(late)
    await eventually(lambda: late.outcome is not None)
    assert handled == []
    assert late.outcome is not None
    assert late.outcome[0] == "reject"


async def test_stop_returns_what_is_unsettled_and_cancels_after_the_grace() -> None:
    async def stuck(_delivery: Delivery) -> None:
        await asyncio.Event().wait()

    runner = HandlerRunner(stuck, name="test", stop_grace=0.05)
    first, queued = FakeDelivery("first", "k"), FakeDelivery("queued", "k")
    runner.submit(first)
    runner.submit(queued)
    await asyncio.sleep(0)
    unsettled = await runner.stop()
    assert sorted(d.message_id for d in unsettled) == ["first", "queued"]


def test_chains_keep_each_key_together_in_order() -> None:
    def m(i: int, key: str | None) -> OutgoingMessage:
        return OutgoingMessage(message_id=str(i), topic="t", body=b"", ordering_key=key)

    batch = [m(0, "a"), m(1, None), m(2, "b"), m(3, "a"), m(4, None), m(5, "b")]
    assert [[x.message_id for x in chain] for chain in chains(batch)] == [
        ["0", "3"],
        ["1"],
        ["2", "5"],
        ["4"],
    ]


async def test_windowed_publishing_limits_what_is_in_flight_and_reports_a_failure() -> None:
    in_flight, peak = 0, 0

    async def publish_one(message: OutgoingMessage) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        if message.message_id == "13":
            raise TimeoutError("no confirm")

    batch = [OutgoingMessage(message_id=str(i), topic="t", body=b"") for i in range(40)]
    failure = await publish_windowed(batch, 8, publish_one)
    assert isinstance(failure, TimeoutError)
    assert peak == 8


def test_public_headers_drop_internal_ones_and_decode_bytes() -> None:
    raw = {"a": "1", "b": b"2", "tidings-ordering-key": "k", "n": 3, "x": [1]}
    assert public_headers(raw) == {"a": "1", "b": "2", "n": "3"}
