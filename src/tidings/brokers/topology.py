"""Removing everything a namespace owns on a broker (``tidings db drop``).

RabbitMQ: the namespace's two exchanges, every queue its brokers declared (found
in the namespace's registry queue, see :func:`tidings.brokers.rabbitmq.registry_queue_name`)
with its dead-letter queue, and the registry itself. NATS JetStream: the namespace's
stream and dead-letter stream (their consumers go with them). The in-process broker
keeps nothing outside the process, except in a journal file the caller names.

Each function connects without declaring anything, checks what exists first and
returns only what it removed, so a second run reports nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlsplit

from tidings.brokers._topics import check_namespace
from tidings.errors import BrokerNotSupported


async def remove_namespace(url: str, namespace: str) -> list[str]:
    """Remove ``namespace``'s topology from the broker at ``url``; what was removed."""
    check_namespace(namespace)
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme == "memory":
        return _remove_memory_journal(url)
    if scheme in ("amqp", "amqps"):
        return await _remove_rabbitmq(url, namespace)
    if scheme in ("nats", "tls"):
        return await _remove_nats(url, namespace)
    raise BrokerNotSupported(f"broker URL {url!r}: unknown scheme {scheme!r}")


def _remove_memory_journal(url: str) -> list[str]:
    path = urlsplit(url).path
    if not path or path == "/":
        return []  # volatile: nothing outlives the process
    removed = []
    for suffix in ("", "-wal", "-shm"):
        target = Path(f"{path}{suffix}")
        if target.exists():
            target.unlink()
            removed.append(f"broker journal {target}")
    return removed


async def _remove_rabbitmq(url: str, namespace: str) -> list[str]:
    import aio_pika
    from aio_pika.exceptions import ChannelClosed

    from tidings.brokers.errors import amqp_errors
    from tidings.brokers.rabbitmq import registry_queue_name

    removed: list[str] = []
    registry = registry_queue_name(namespace)
    with amqp_errors("connect"):
        connection = await aio_pika.connect(url, timeout=10)
    async with connection:

        async def exists(kind: str, name: str) -> bool:
            # A passive declaration of something absent closes its channel: one each.
            channel = await connection.channel()
            try:
                if kind == "queue":
                    await channel.declare_queue(name, passive=True)
                else:
                    await channel.get_exchange(name, ensure=True)
            except ChannelClosed:
                return False
            finally:
                with contextlib.suppress(Exception):
                    await channel.close()
            return True

        queues: set[str] = set()
        if await exists("queue", registry):
            async with connection.channel() as channel:
                recorded = await channel.declare_queue(registry, passive=True)
                # Read without acking: the names come back if we fail before the delete.
                while (message := await recorded.get(no_ack=False, fail=False)) is not None:
                    queues.add(message.body.decode("utf-8", "replace"))
        targets = [
            f"{namespace}.{queue}{tail}" for queue in sorted(queues) for tail in ("", ".dead")
        ]
        for target in [*targets, registry]:
            if await exists("queue", target):
                async with connection.channel() as channel:
                    await channel.queue_delete(target)
                removed.append(f"queue {target}")
        for exchange in (namespace, f"{namespace}.dlx"):
            if await exists("exchange", exchange):
                async with connection.channel() as channel:
                    await channel.exchange_delete(exchange)
                removed.append(f"exchange {exchange}")
    return removed


async def _remove_nats(url: str, namespace: str) -> list[str]:
    import nats
    import nats.js.errors

    from tidings.brokers.errors import nats_errors

    removed: list[str] = []
    with nats_errors("connect"):
        async with asyncio.timeout(15):
            client = await nats.connect(
                servers=url.split(","), connect_timeout=5, allow_reconnect=False
            )
    try:
        js = client.jetstream()
        for stream in (namespace, f"{namespace}-dlq"):
            try:
                await js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                continue
            await js.delete_stream(stream)
            removed.append(f"stream {stream}")
    finally:
        await client.close()
    return removed
