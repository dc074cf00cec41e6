from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tidings.inbox._batching import Batcher


class Recorder:
    """An ``apply`` that doubles its items, remembers its batches and can hold each one."""

    def __init__(self, *, hold: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.gates: list[asyncio.Event] = []
        self.hold = hold
        self.fail_on: int | None = None

    def open(self) -> None:
        """Let every held batch, and every later one, finish."""
        self.hold = False
        for gate in self.gates:
            gate.set()

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        gate = asyncio.Event()
        self.gates.append(gate)
        if self.hold:
            await gate.wait()
        if self.fail_on in items:
            raise ValueError(f"cannot apply {self.fail_on}")
        return [item * 2 for item in items]


async def wait_for(condition: object, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0)

    await asyncio.wait_for(poll(), timeout)


async def test_a_lone_item_is_applied_at_once_on_its_own() -> None:
    apply = Recorder()
    batcher = Batcher(apply, max_batch=10, max_concurrent=2)

    assert await batcher.submit(3) == 6
    assert apply.batches == [[3]]


async def test_items_arriving_while_the_slots_are_busy_are_applied_together_in_order() -> None:
    apply = Recorder(hold=True)
    batcher = Batcher(apply, max_batch=3, max_concurrent=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await wait_for(lambda: len(apply.batches) == 1)
    rest = [asyncio.ensure_future(batcher.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0)

    apply.open()

    assert await first == 0
    assert await asyncio.gather(*rest) == [2, 4, 6, 8, 10]
    # One at a time, at most three per batch, in the order submitted.
    assert apply.batches == [[0], [1, 2, 3], [4, 5]]


async def test_a_failing_batch_fails_every_submitter_of_it_and_the_next_batch_runs() -> None:
    apply = Recorder(hold=True)
    apply.fail_on = 2
    batcher = Batcher(apply, max_batch=2, max_concurrent=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await wait_for(lambda: len(apply.batches) == 1)
    failing = [asyncio.ensure_future(batcher.submit(n)) for n in (1, 2)]
    last = asyncio.ensure_future(batcher.submit(3))
    await asyncio.sleep(0)

    apply.open()

    assert await first == 0
    for task in failing:
        with pytest.raises(ValueError, match="cannot apply 2"):
            await task
    assert await last == 6
    assert apply.batches == [[0], [1, 2], [3]]


async def test_a_cancelled_leader_hands_its_followers_to_the_next_leader() -> None:
    apply = Recorder(hold=True)
    batcher = Batcher(apply, max_batch=5, max_concurrent=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await wait_for(lambda: len(apply.batches) == 1)
    leader = asyncio.ensure_future(batcher.submit(1))
    followers = [asyncio.ensure_future(batcher.submit(n)) for n in (2, 3)]
    apply.gates[0].set()
    assert await first == 0
    await wait_for(lambda: len(apply.batches) == 2)

    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    apply.open()

    assert await asyncio.gather(*followers) == [4, 6]
    assert apply.batches == [[0], [1, 2, 3], [2, 3]]


async def test_a_waiter_cancelled_before_its_turn_is_skipped() -> None:
    apply = Recorder(hold=True)
    batcher = Batcher(apply, max_batch=5, max_concurrent=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await wait_for(lambda: len(apply.batches) == 1)
    gone = asyncio.ensure_future(batcher.submit(1))
    kept = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    gone.cancel()

    apply.open()

    assert await first == 0
    assert await kept == 4
    assert apply.batches == [[0], [2]]
