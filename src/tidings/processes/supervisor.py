"""Child processes, one per service: start, wait until ready, stop, kill, restart.

The supervisor starts each child in a session of its own, so a Ctrl-C at the
terminal reaches only the supervisor, which then stops the children in order:
SIGINT first (their graceful shutdown), SIGKILL for any still alive after
``stop_timeout``. On Linux a child also gets SIGTERM if the supervisor dies
without stopping it, so no service outlives the command or test that started it.

:meth:`Supervisor.supervise` keeps the children running: one that exits without
being asked (a crash, a SIGKILL, an out-of-memory kill) is started again with the
same command line, so on the same port, after a backoff that grows with its
recent exits, while the others keep running. A child that exits
``RestartPolicy.crash_limit`` times within ``crash_window`` seconds is in a crash
loop: restarting it again would only hide why, so it is *held back* and reported
with its last log lines, and the rest of the system keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
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


@dataclass(frozen=True)
class RestartPolicy:
    """When and how soon :meth:`Supervisor.supervise` starts an exited child again."""

    initial_delay: float = 0.5
    """Wait before the first restart; doubles with each further exit in the window."""
    max_delay: float = 10.0
    crash_limit: int = 5
    """This many exits within ``crash_window`` seconds is a crash loop: held back."""
    crash_window: float = 60.0
    log_lines: int = 15
    """Lines of a held-back child's log shown with the report."""

    def delay(self, recent_exits: int) -> float:
        """The backoff before a restart, given the exits in the window (this one included)."""
        return float(min(self.initial_delay * 2 ** max(recent_exits - 1, 0), self.max_delay))


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
        self._down: set[str] = set()
        """Stopped or killed on purpose, or held back: :meth:`supervise` leaves these be."""
        self._started: dict[str, asyncio.Event] = {}
        self.held: set[str] = set()
        """Children held back after a crash loop (until :meth:`start` starts them)."""
        self.restarts: dict[str, int] = dict.fromkeys(self.specs, 0)
        """How many times :meth:`supervise` has started each child again."""

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
            await self._spawn(name)
            self._down.discard(name)
            self.held.discard(name)
            self._started_event(name).set()

    async def _spawn(self, name: str) -> None:
        self._close_log(name)
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

    async def wait_ready(
        self,
        names: Iterable[str] | None = None,
        timeout: float = 60.0,
        *,
        restarting: bool = False,
    ) -> set[str]:
        """Wait until every named child answers its ready URL with 200; return them.

        Raises :class:`ProcessFailed` if one exits first, :class:`TimeoutError` after
        ``timeout`` seconds. With ``restarting`` (while :meth:`supervise` runs) an exit
        is the supervisor's to handle: the child is waited for again once restarted,
        and one held back is left out of the result instead.
        """
        waiting = set(self._names(names))
        ready: set[str] = set()
        deadline = time.monotonic() + timeout
        interval = 0.05
        async with httpx.AsyncClient(timeout=2.0) as client:
            while waiting:
                for name in sorted(waiting):
                    if restarting and name in self.held:
                        waiting.discard(name)
                        continue
                    if not self.running(name):
                        if restarting:
                            continue
                        raise ProcessFailed(f"{name} exited with code {self.returncode(name)}")
                    if await self._answers(client, self.specs[name].ready_url):
                        waiting.discard(name)
                        ready.add(name)
                        self._on_event(f"{name} is ready")
                if not waiting:
                    return ready
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"not ready after {timeout:.0f}s: {', '.join(sorted(waiting))}"
                    )
                await asyncio.sleep(interval)
                interval = min(interval * 1.5, 0.5)
        return ready

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

    # -- keeping them running ------------------------------------------------------

    async def supervise(self, policy: RestartPolicy | None = None) -> None:
        """Restart every child that exits without being asked, until cancelled.

        Each restart is reported in one line through ``on_event``; a crash loop holds
        the child back (see the module docstring) and the others keep running.
        Children stopped or killed through the supervisor are left down.
        """
        chosen = policy or RestartPolicy()
        watchers = [asyncio.ensure_future(self._keep_running(name, chosen)) for name in self.specs]
        try:
            await asyncio.gather(*watchers)
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _keep_running(self, name: str, policy: RestartPolicy) -> None:
        exits: deque[float] = deque()
        while True:
            await self._until_started(name)
            code = await self._processes[name].wait()
            if name in self._down:
                continue  # stopped on purpose: wait until someone starts it again
            now = time.monotonic()
            exits.append(now)
            while exits and now - exits[0] > policy.crash_window:
                exits.popleft()
            if len(exits) >= policy.crash_limit:
                self._hold_back(name, code, len(exits), policy)
                exits.clear()
                continue
            delay = policy.delay(len(exits))
            await asyncio.sleep(delay)
            if name in self._down or self.running(name):
                continue  # stopped meanwhile, or already started again through start()
            try:
                await self._spawn(name)
            except OSError as error:
                # Could not even start it: the old, exited process stays and counts as
                # one more exit on the next turn, towards holding it back.
                self._on_event(f"{name} could not be restarted: {error}")
                continue
            self.restarts[name] += 1
            self._on_event(
                f"{name} exited with code {code}; restarted after {delay:.1f}s "
                f"(pid {self.pid(name)}, restart {self.restarts[name]})"
            )

    def _hold_back(self, name: str, code: int, exits: int, policy: RestartPolicy) -> None:
        self._down.add(name)
        self.held.add(name)
        self._close_log(name)
        spec = self.specs[name]
        lines = [
            f"{name} exited {exits} times within {policy.crash_window:.0f}s (last code {code}): "
            "held back, not restarted; the other services keep running"
        ]
        if spec.log_path is not None:
            lines.append(f"last lines of {spec.log_path}:")
            lines += [f"  | {line}" for line in tail(spec.log_path, policy.log_lines)]
        self._on_event("\n".join(lines))

    async def _until_started(self, name: str) -> None:
        while name in self._down or name not in self._processes:
            event = self._started_event(name)
            event.clear()
            await event.wait()

    def _started_event(self, name: str) -> asyncio.Event:
        return self._started.setdefault(name, asyncio.Event())

    # -- stopping ------------------------------------------------------------------

    async def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to the child and wait until it has exited; returns its exit code.

        A kill through the supervisor is on purpose: :meth:`supervise` does not restart
        the child (call :meth:`start`). To see it restarted, as after a crash, signal its
        :meth:`pid` directly (:func:`tidings.testing.faults.sigkill`).
        """
        self._down.add(name)
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
        self._down.update(chosen)
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


def tail(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of a log file (fewer if it is shorter; none if missing)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(size - 64 * 1024, 0))
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-count:]
