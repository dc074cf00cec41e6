"""Proof under faults: the broker goes away mid-stream and comes back; nothing is lost.

The shared servers are never restarted (other engineers' tests use them):

* NATS: a throwaway ``nats-server`` of our own (JetStream, file store in a temp
  dir, a free port) is killed with SIGKILL mid-stream and started again on the
  same port and store;
* RabbitMQ: every connection of this test (relay and consumer, named by the
  client-provided connection name) is force-closed server-side with
  ``rabbitmqctl close_connection``, as a broker restart looks to a client. The
  quorum queue itself survives, as it survives a real node restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from faults_rig import DIAGONAL, TIMEOUT, Rig, ThrowawayNats, close_rabbitmq_connections, rig

from tidings.testing.outbox import wait_until


@pytest.fixture
async def the_rig(request: pytest.FixtureRequest, make_database: Any) -> AsyncIterator[Rig]:
    backend, kind = request.param
    if kind == "rabbitmq":
        async with rig(make_database, backend, kind) as made:
            yield made
        return
    server = ThrowawayNats()
    try:
        await server.start()
        async with rig(make_database, backend, kind, url=server.url) as made:
            made.extras["server"] = server
            yield made
    finally:
        await server.close()


async def restart_broker(the_rig: Rig) -> None:
    if the_rig.kind == "rabbitmq":
        closed = await close_rabbitmq_connections(the_rig.connection_name)
        assert closed >= 2, "the relay's and the consumer's connections"
        return
    server: ThrowawayNats = the_rig.extras["server"]
    await server.kill()
    # Commits go on while the broker is down; the relay backs off and resumes.
    await the_rig.write(20)
    await server.start()


@pytest.mark.parametrize("the_rig", DIAGONAL, indirect=True)
async def test_broker_restart_mid_stream_loses_nothing(the_rig: Rig) -> None:
    consumer = the_rig.consumer()
    await the_rig.start_consumer(consumer, await the_rig.broker())
    async with the_rig.relay(await the_rig.broker()) as relay:
        await the_rig.write(30)

        async def some_applied() -> bool:
            return len(await the_rig.applied()) >= 10

        await wait_until(some_applied, timeout=TIMEOUT, interval=0.05, message="stream flowing")
        await restart_broker(the_rig)
        await the_rig.write(30)
        await the_rig.wait_all_applied()
        committed = len(the_rig.history.committed_ids)
        await wait_until(
            lambda: relay.published >= committed, timeout=TIMEOUT, message="every row marked"
        )
    await the_rig.assert_exactly_once()
