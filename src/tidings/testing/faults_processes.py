"""Service processes killed the hard way, and the wait for their supervisor to bring
them back.

A SIGKILL sent straight to a child's pid looks, to the :class:`~tidings.processes.Supervisor`,
exactly like a crash: :meth:`~tidings.processes.Supervisor.supervise` restarts it.
(:meth:`Supervisor.kill <tidings.processes.Supervisor.kill>` instead means "down on
purpose" and is left down.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from tidings.processes import Supervisor


def sigkill(pid: int) -> None:
    """``kill -9 pid``: no shutdown hooks, no flushing, no goodbye to the broker."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def kill_service(supervisor: Supervisor, name: str) -> int:
    """SIGKILL the running child ``name`` behind its supervisor's back; its old pid."""
    pid = supervisor.pid(name)
    if pid is None or not supervisor.running(name):
        raise RuntimeError(f"{name} is not running")
    sigkill(pid)
    return pid


async def wait_restarted(
    supervisor: Supervisor, name: str, old_pid: int, *, timeout: float = 120.0
) -> int:
    """Wait until the supervisor runs ``name`` under a new pid and it answers ready;
    the new pid. TimeoutError if not within ``timeout`` seconds (or if it was held back)."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while True:
        pid = supervisor.pid(name)
        if pid is not None and pid != old_pid and supervisor.running(name):
            break
        if name in supervisor.held:
            raise TimeoutError(f"{name} was held back by its supervisor, not restarted")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} was not restarted within {timeout:.0f}s")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 0.5)
    remaining = max(deadline - time.monotonic(), 1.0)
    await supervisor.wait_ready([name], timeout=remaining, restarting=True)
    return pid
