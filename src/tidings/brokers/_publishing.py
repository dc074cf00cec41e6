"""Windowed publishing that keeps per-key order, shared by the server adapters.

Up to ``window`` publishes await their confirms at once. Messages with the same
``ordering_key`` go one after another, each after the previous one's confirm:
if one of them fails, none behind it has been sent, so the caller's retry of the
batch cannot put a later event before an earlier one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from tidings.brokers.base import OutgoingMessage


def chains(messages: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
    """The batch split into sequences to publish in order: one per key, one per keyless message."""
    by_key: dict[str, list[OutgoingMessage]] = {}
    result: list[list[OutgoingMessage]] = []
    for message in messages:
        if message.ordering_key is None:
            result.append([message])
        elif message.ordering_key in by_key:
            by_key[message.ordering_key].append(message)
        else:
            by_key[message.ordering_key] = [message]
            result.append(by_key[message.ordering_key])
    return result


async def publish_windowed(
    messages: Sequence[OutgoingMessage],
    window: int,
    publish_one: Callable[[OutgoingMessage], Awaitable[None]],
) -> BaseException | None:
    """Publish all of ``messages``; the first failure, or None once every one is confirmed."""
    slots = asyncio.Semaphore(max(window, 1))

    async def in_order(chain: list[OutgoingMessage]) -> None:
        for message in chain:
            async with slots:
                await publish_one(message)

    results = await asyncio.gather(
        *(in_order(chain) for chain in chains(messages)), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            return result
    return None
