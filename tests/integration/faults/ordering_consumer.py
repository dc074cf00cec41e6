"""One consumer process of the ordering fault tests (see ordering_rig): subscribes,
prints ``ready``, applies deliveries until it is killed.

Run as ``python ordering_consumer.py '<json config>'`` with this folder and tests/
on PYTHONPATH.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from ordering_rig import ordered_consumer

from tidings.brokers.base import Broker
from tidings.brokers.nats import NatsBroker
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.storage.database import Database


async def main(config: dict[str, Any]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("tidings.inbox").setLevel(logging.DEBUG)
    options = dict(config["broker_options"])
    broker: Broker
    if config["kind"] == "rabbitmq":
        broker = RabbitMQBroker(config["broker_url"], namespace=config["namespace"], **options)
    else:
        broker = NatsBroker(config["broker_url"], namespace=config["namespace"], **options)
    async with Database("downstream", config["database_url"]) as database, broker:
        consumer = ordered_consumer(database, keep_order=config["keep_order"])
        await consumer.start(broker, prefetch=config["prefetch"])
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
