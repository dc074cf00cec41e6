"""One service in one process: the hook a system declares, and its HTTP server.

A system that can run as processes puts a :data:`ServeHook` in
``system.extras["serve"]``; ``tidings run <service>`` calls it with a
:class:`ServeRequest` and cancels it on SIGTERM or SIGINT. The hook runs the
service (HTTP app, relay, consumers, workers) until cancelled, then stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any

import uvicorn

from tidings.errors import ConfigurationError
from tidings.settings import Settings
from tidings.system import System

SERVE_EXTRA = "serve"


@dataclass(frozen=True)
class ServeRequest:
    """What ``tidings run`` asks of a system's serve hook."""

    system: System
    service: str
    settings: Settings
    """``settings.broker_url`` is the broker to use (``--broker`` already applied)."""
    host: str
    port: int
    namespace: str
    """The broker namespace every process of this system shares."""
    pool_size: int = 5
    """Connections the service keeps to its database (as many again in overflow): eight
    services share one server's connection limit."""


ServeHook = Callable[[ServeRequest], Awaitable[None]]


def serve_hook(system: System) -> ServeHook:
    """``system.extras["serve"]``, or ConfigurationError when the system has none."""
    hook = system.extras.get(SERVE_EXTRA)
    if hook is None or not callable(hook):
        raise ConfigurationError(f"system {system.name} cannot run a service as a process")
    found: ServeHook = hook
    return found


def service_urls(system: System, host: str, base_port: int) -> dict[str, str]:
    """Each service's base URL when they listen on consecutive ports from ``base_port``,
    in the order the system declares them (what ``tidings up`` starts)."""
    return {
        service.name: f"http://{host}:{base_port + index}"
        for index, service in enumerate(system.services)
    }


class _Server(uvicorn.Server):
    # Signals are the caller's: uvicorn's own handlers would re-raise SIGTERM after its
    # shutdown and kill the process before the relay and consumers have stopped.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_asgi(app: Any, host: str, port: int, *, log_level: str = "warning") -> None:
    """Serve ``app`` with uvicorn until cancelled; in-flight requests finish first."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="off")
    server = _Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
    if not server.started:
        raise ConfigurationError(f"could not serve HTTP on {host}:{port}")


def run_until_signalled(main: Coroutine[Any, Any, None]) -> bool:
    """Run ``main`` in a new event loop; SIGINT or SIGTERM cancel it.

    Returns True when a signal ended it, False when it ended by itself.
    """

    async def runner() -> bool:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(main)
        signalled: list[int] = []

        def stop(sig: int) -> None:
            signalled.append(sig)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig)
        try:
            await task
        except asyncio.CancelledError:
            if not signalled:
                raise
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return bool(signalled)

    return asyncio.run(runner())
