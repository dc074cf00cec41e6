"""How a system declares its saga orchestrators, so tools can find them.

Convention: a :class:`~tidings.system.System` lists them in
``extras["sagas"]``, a sequence of :class:`Orchestrator`::

    system = System(
        name="hotel",
        services=(...),
        extras={"sagas": (Orchestrator("bookings", (booking_saga,), registry),)},
    )

``tidings saga list|show|retry`` and the dashboard read the orchestrators'
databases through it; ``retry`` builds the engine with :meth:`Orchestrator.engine`,
so its commands go to that service's outbox and its running relay publishes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tidings.errors import ConfigurationError
from tidings.messages import MessageRegistry
from tidings.sagas.definition import SagaDefinition
from tidings.sagas.engine import Clock, SagaEngine, TransitionListener
from tidings.storage.database import Database
from tidings.system import System

EXTRAS_KEY = "sagas"


@dataclass(frozen=True)
class Orchestrator:
    """A service that runs sagas: its name, the definitions it runs, its message registry."""

    service: str
    definitions: tuple[SagaDefinition, ...]
    registry: MessageRegistry
    dead_letters: bool = True
    """Whether failed compensations also go to the service's ``dead_letters`` table."""
    listeners: tuple[TransitionListener, ...] = ()
    """Run in every transition's transaction (keep the service's own status rows current)."""

    def engine(self, database: Database, *, clock: Clock | None = None) -> SagaEngine:
        """The engine wired to the outbox (and dead-letter store) of ``database``."""
        from tidings.sagas.messaging import InboxDeadLetterSink, OutboxCommandSender, in_saga_flow

        options = {"clock": clock} if clock is not None else {}
        return SagaEngine(
            database,
            self.definitions,
            OutboxCommandSender(self.registry),
            dead_letters=InboxDeadLetterSink() if self.dead_letters else None,
            listeners=[in_saga_flow(listener) for listener in self.listeners],
            **options,
        )


def orchestrators(system: System) -> list[Orchestrator]:
    """The orchestrators ``system`` declares in ``extras["sagas"]`` (empty if none)."""
    declared = system.extras.get(EXTRAS_KEY, ())
    if isinstance(declared, Orchestrator):
        declared = (declared,)
    if not isinstance(declared, Sequence) or not all(
        isinstance(item, Orchestrator) for item in declared
    ):
        raise ConfigurationError(
            f"system {system.name}: extras['sagas'] must be a sequence of "
            "tidings.sagas.Orchestrator"
        )
    return list(declared)


def orchestrator(system: System, service: str | None = None) -> Orchestrator:
    """The orchestrator named ``service``, or the only one."""
    found = orchestrators(system)
    if service is not None:
        for item in found:
            if item.service == service:
                return item
        raise ConfigurationError(f"system {system.name}: {service} runs no sagas")
    if len(found) != 1:
        names = ", ".join(item.service for item in found) or "none"
        raise ConfigurationError(
            f"system {system.name} has {len(found)} saga orchestrators ({names}); pick --service"
        )
    return found[0]
