"""The waiting room: parked deliveries resume oldest first when their aggregate moves,
or on their own once patience runs out."""

from __future__ import annotations

import asyncio

from tidings.inbox._waiting import Resume, WaitingRoom


async def test_a_wake_resumes_the_aggregates_parked_deliveries_oldest_first() -> None:
    room = WaitingRoom(patience=60.0)
    resumed: list[tuple[str, int, bool]] = []
    done = asyncio.Event()

    def resume(name: str, version: int) -> Resume:
        async def run(timed_out: bool) -> None:
            resumed.append((name, version, timed_out))
            if len(resumed) == 2:
                done.set()

        return run

    room.park("a", 3, resume("a", 3))
    room.park("a", 2, resume("a", 2))
    room.park("b", 2, resume("b", 2))
    assert len(room) == 3
    room.wake("a")
    await asyncio.wait_for(done.wait(), timeout=10.0)
    assert resumed == [("a", 2, False), ("a", 3, False)]
    assert len(room) == 1
    room.wake("nobody")
    assert len(room) == 1


async def test_a_parked_delivery_is_resumed_when_patience_runs_out() -> None:
    room = WaitingRoom(patience=0.01)
    timed_out = asyncio.Event()

    async def resume(after_timeout: bool) -> None:
        if after_timeout:
            timed_out.set()

    room.park("a", 5, resume)
    await asyncio.wait_for(timed_out.wait(), timeout=10.0)
    assert len(room) == 0
    # A wake after the timeout finds nothing left to resume.
    room.wake("a")
    assert len(room) == 0
