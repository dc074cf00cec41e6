"""Running the hotel in one process: each service's relay and consumers, the saga
engine and its deadline worker, all on one broker.

Each service still owns its database; they share only the broker and the process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from types import TracebackType

from examples.hotel.bookings import handlers as bookings
from examples.hotel.bookings.orchestration import orchestrator
from examples.hotel.notifications import handlers as notifications
from examples.hotel.payments import handlers as payments
from examples.hotel.rooms import handlers as rooms
from tidings.brokers.base import Broker
from tidings.inbox import Consumer
from tidings.outbox import Relay
from tidings.provisioning import upgrade
from tidings.sagas import DeadlineWorker, SagaDefinition, SagaEngine, reply_consumer
from tidings.settings import Settings
from tidings.storage.database import Database
from tidings.system import System

SERVICES = ("bookings", "rooms", "payments", "notifications")


async def migrate_all(system: System, settings: Settings) -> dict[str, str | None]:
    """Bring every service's database to its head revision."""
    return {service.name: await upgrade(system, service, settings) for service in system.services}


_PARTICIPANTS: dict[str, Callable[[Database], Consumer]] = {
    "bookings": bookings.commands_consumer,
    "rooms": rooms.commands_consumer,
    "payments": payments.commands_consumer,
    "notifications": notifications.commands_consumer,
}


class HotelRuntime:
    """``async with HotelRuntime(databases, broker) as hotel:`` runs the services.

    ``services`` picks which ones run here (all by default; the orchestrator runs
    whenever ``bookings`` does); ``saga`` replaces the booking saga's definition.
    """

    def __init__(
        self,
        databases: dict[str, Database],
        broker: Broker,
        *,
        services: Sequence[str] = SERVICES,
        saga: SagaDefinition | None = None,
        relay_poll_interval: float = 0.2,
        deadline_poll_interval: float = 0.1,
    ) -> None:
        self.databases = databases
        self.broker = broker
        self.services = tuple(services)
        chosen = replace(orchestrator, definitions=(saga,)) if saga else orchestrator
        self.engine: SagaEngine = chosen.engine(databases["bookings"])
        self._relay_poll_interval = relay_poll_interval
        self._deadline_poll_interval = deadline_poll_interval
        self._stack = AsyncExitStack()

    def consumers(self) -> list[Consumer]:
        found = [_PARTICIPANTS[name](self.databases[name]) for name in self.services]
        if "bookings" in self.services:
            found.insert(0, reply_consumer(self.engine, orchestrator.registry))
        return found

    async def __aenter__(self) -> HotelRuntime:
        try:
            for consumer in self.consumers():
                subscription = await consumer.start(self.broker)
                self._stack.push_async_callback(subscription.stop)
            for name in self.services:
                relay = Relay(
                    self.databases[name],
                    self.broker,
                    poll_interval=self._relay_poll_interval,
                    busy_poll_interval=0.005,
                )
                await self._stack.enter_async_context(relay)
            if "bookings" in self.services:
                worker = DeadlineWorker(self.engine, poll_interval=self._deadline_poll_interval)
                await self._stack.enter_async_context(worker)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
