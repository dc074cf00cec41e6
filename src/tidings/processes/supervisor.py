"""Child processes, one per service: start, wait until ready, stop, kill, restart.

The supervisor starts each child in a session of its own, so a Ctrl-C at the
terminal reaches only the supervisor, which then stops the children in order:
SIGINT first (their graceful shutdown), SIGKILL for any still alive after
``stop_timeout``. On Linux a child also gets SIGTERM if the supervisor dies
without stopping it, so no service outlives the command or test that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from tidings.errors import TidingsError

_PR_SET_PDEATHSIG = 1


class ProcessFailed(TidingsError):
    """A child exited when it should have been running (or never became ready)."""


@dataclass(frozen=True)
class ProcessSpec:
    """How to start one child and how to tell that it is ready."""

    name: str
    argv: Sequence[str]
    url: str | None = None
    """Where the child serves (printed to the user)."""
    ready_url: str | None = None
    """Polled until it answers 200; None: ready as soon as it runs."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Added to the supervisor's own environment."""
    log_path: Path | None = None
    """Where the child's stdout and stderr go (appended); None: the supervisor's own."""


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: only async-signal-safe work here.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Runs the children of ``specs``; ``async with`` stops them all on exit."""

    def __init__(
        self,
        specs: Iterable[ProcessSpec],
        *,
        stop_signal: int = signal.SIGINT,
        stop_timeout: float = 10.0,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self._on_event = on_event or (lambda _line: None)
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._logs: dict[str, IO[bytes]] = {}

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- starting ------------------------------------------------------------------

    async def start(self, names: Iterable[str] | None = None) -> None:
        """Start the named children (all when None) that are not running."""
        for name in self._names(names):
            if self.running(name):
                continue
            spec = self.specs[name]
            stdout: IO[bytes] | None = None
            if spec.log_path is not None:
                spec.log_path.parent.mkdir(parents=True, exist_ok=True)
                stdout = self._logs[name] = spec.log_path.open("ab")
            self._processes[name] = await asyncio.create_subprocess_exec(
                *spec.argv,
                env={**os.environ, **spec.env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=asyncio.subprocess.STDOUT if stdout is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    async def wait_ready(self, names: Iterable[str] | None = None, timeout: float = 60.0) -> None:
        """Wait until every named child answers its ready URL with 200.

        Raises :class:`ProcessFailed` if one exits first, :class:`TimeoutError` after
        ``timeout`` seconds.
        """
        waiting = set(self._names(names))
        deadline = time.monotonic() + timeout
        interval = 0.05
        async with httpx.AsyncClient(timeout=2.0) as client:
            while waiting:
                for name in sorted(waiting):
                    if not self.running(name):
                        raise ProcessFailed(f"{name} exited with code {self.returncode(name)}")
                    if await self._answers(client, self.specs[name].ready_url):
                        waiting.discard(name)
                        self._on_event(f"{name} is ready")
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"not ready after {timeout:.0f}s: {', '.join(sorted(waiting))}"
                    )
                await asyncio.sleep(interval)
                interval = min(interval * 1.5, 0.5)

    @staticmethod
    async def _answers(client: httpx.AsyncClient, url: str | None) -> bool:
        if url is None:
            return True
        try:
            return (await client.get(url)).status_code == 200
        except httpx.HTTPError:
            return False

    # -- watching ------------------------------------------------------------------

    def pid(self, name: str) -> int | None:
        process = self._processes.get(name)
        return process.pid if process is not None else None

    def running(self, name: str) -> bool:
        process = self._processes.get(name)
        return process is not None and process.returncode is None

    def returncode(self, name: str) -> int | None:
        process = self._processes.get(name)
        return process.returncode if process is not None else None

    async def wait_any_exit(self) -> str:
        """The name of the first running child to exit (waits until one does)."""
        waits = {
            asyncio.ensure_future(process.wait()): name
            for name, process in self._processes.items()
            if process.returncode is None
        }
        if not waits:
            raise ProcessFailed("no child is running")
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        return waits[next(iter(done))]

    # -- stopping ------------------------------------------------------------------

    async def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to the child and wait until it has exited; returns its exit code."""
        process = self._processes[name]
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
        code = await process.wait()
        self._close_log(name)
        return code

    async def stop(self, names: Iterable[str] | None = None) -> None:
        """Stop the named children (all when None): ``stop_signal``, then SIGKILL if needed."""
        chosen = [name for name in self._names(names) if name in self._processes]
        for name in chosen:
            process = self._processes[name]
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(self.stop_signal)
        await asyncio.gather(*(self._reap(name) for name in chosen))

    async def _reap(self, name: str) -> None:
        process = self._processes[name]
        try:
            await asyncio.wait_for(process.wait(), self.stop_timeout)
        except TimeoutError:
            self._on_event(f"{name} did not stop within {self.stop_timeout:.0f}s: killed")
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        self._close_log(name)

    async def restart(self, name: str) -> None:
        """Stop the child if it runs, then start it again (not waiting for readiness)."""
        await self.stop([name])
        await self.start([name])

    def _close_log(self, name: str) -> None:
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()

    def _names(self, names: Iterable[str] | None) -> list[str]:
        if names is None:
            return list(self.specs)
        chosen = list(names)
        unknown = [name for name in chosen if name not in self.specs]
        if unknown:
            raise KeyError(f"no process named {', '.join(unknown)}")
        return chosen
