"""Waking the relay when rows commit: a hint only, never needed for correctness.

Three sources, cheapest first:

* **In-process**: :func:`tidings.outbox.add` registers an after-commit callback that
  wakes relays running in the same process on the same database (the embedded
  default runs every service and relay in one process). Free.
* **PostgreSQL LISTEN/NOTIFY** (capability ``listen_notify``): a transaction that
  sends NOTIFY takes a global lock at commit, which costs every writer (measured
  in ``bench/relay_notify_cost.py``). So :func:`should_notify` lets a process send
  at most one NOTIFY per :data:`NOTIFY_INTERVAL` from inside a writer's transaction
  (the leading edge: an idle relay is woken by the first commit of a burst). A
  commit whose NOTIFY was skipped arranges a trailing one instead: once the interval
  is over, the process sends one NOTIFY on its own, outside any writer's
  transaction (:func:`notify_soon`), so the last commit of a burst wakes the relay
  within the interval even when nothing else follows it. Relays that hear NOTIFYs
  from other processes also poll quickly for a while (``Relay(linger=...)``), which
  picks up such commits before the trailing NOTIFY arrives. Each NOTIFY carries
  :data:`PROCESS_TOKEN`, so a relay can tell its own process's NOTIFYs (whose
  commits the in-process signal already announced) from other processes'.
* **Polling** every ``poll_interval`` when nothing else woke the relay (a lost
  listener connection, a NOTIFY whose transaction rolled back).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy import text

from tidings.outbox.table import NOTIFY_CHANNEL
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork

logger = logging.getLogger(__name__)

NOTIFY_INTERVAL_DEFAULT = 0.05
NOTIFY_INTERVAL = NOTIFY_INTERVAL_DEFAULT
"""Seconds: per process and database, at most one NOTIFY in this long."""

PROCESS_TOKEN = uuid.uuid4().hex
"""The payload of this process's NOTIFYs: lets a listener recognise its own."""

_last_notify: dict[str, float] = {}
_local_waiters: dict[str, weakref.WeakSet[asyncio.Event]] = {}
# Per event loop and database, the pending trailing NOTIFY (at most one).
_trailing: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Task[None]]] = (
    weakref.WeakKeyDictionary()
)


def _key(database: Database) -> str:
    return database.url.render_as_string(hide_password=True)


def should_notify(database: Database, *, now: float | None = None) -> bool:
    """True if this process sent no NOTIFY for ``database`` in the last interval."""
    key = _key(database)
    moment = time.monotonic() if now is None else now
    if moment - _last_notify.get(key, float("-inf")) < NOTIFY_INTERVAL:
        return False
    _last_notify[key] = moment
    return True


async def hint_new_rows(uow: UnitOfWork) -> None:
    """Called by ``add``: arrange the wake-ups for rows this unit of work wrote."""
    info = uow.info
    if not info.get("tidings.outbox.hinted"):
        info["tidings.outbox.hinted"] = True
        uow.after_commit(lambda: _committed(uow.database, info))
    if not uow.database.capabilities.listen_notify or info.get("tidings.outbox.notified"):
        return
    if should_notify(uow.database):
        info["tidings.outbox.notified"] = True
        # Delivered at commit, and only if the transaction commits.
        await uow.execute(
            text("SELECT pg_notify(:channel, :token)"),
            {"channel": NOTIFY_CHANNEL, "token": PROCESS_TOKEN},
        )


def _committed(database: Database, info: dict[str, object]) -> None:
    woke = wake_local(database)
    if database.capabilities.listen_notify and not info.get("tidings.outbox.notified") and not woke:
        # Throttled, and no relay of this process took the signal: the trailing NOTIFY,
        # sent after the commit so that it cannot reach a relay before the rows.
        notify_soon(database)


def notify_soon(database: Database) -> None:
    """Send one NOTIFY for ``database`` once this process's interval allows it.

    The trailing edge of the throttle: several calls within one interval share one
    NOTIFY, sent on a connection of its own (autocommit, so it takes the commit-time
    lock of a one-statement transaction, not a writer's). Best effort: a failure is
    logged and the relays' polling covers it.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    key = _key(database)
    pending = _trailing.setdefault(loop, {})
    if key in pending:
        return
    delay = max(0.0, _last_notify.get(key, float("-inf")) + NOTIFY_INTERVAL - time.monotonic())
    pending[key] = loop.create_task(_notify_later(database, key, delay, pending))


async def _notify_later(
    database: Database, key: str, delay: float, pending: dict[str, asyncio.Task[None]]
) -> None:
    try:
        await asyncio.sleep(delay)
    finally:
        pending.pop(key, None)
    if not _is_open(database):
        return
    _last_notify[key] = time.monotonic()
    try:
        async with database.read() as connection:
            await connection.execute(
                text("SELECT pg_notify(:channel, :token)"),
                {"channel": NOTIFY_CHANNEL, "token": PROCESS_TOKEN},
            )
    except Exception as error:
        logger.debug("trailing outbox NOTIFY on %s failed: %s", database.describe, error)


def _is_open(database: Database) -> bool:
    # Touching ``engine`` after close() would quietly open a new pool that nobody closes.
    return database.is_open


def wake_local(database: Database) -> bool:
    """Wake relays in this process that watch ``database``; True if there were any."""
    waiters = list(_local_waiters.get(_key(database), ()))
    for event in waiters:
        event.set()
    return bool(waiters)


def watch_local(database: Database, event: asyncio.Event) -> None:
    _local_waiters.setdefault(_key(database), weakref.WeakSet()).add(event)


def unwatch_local(database: Database, event: asyncio.Event) -> None:
    waiters = _local_waiters.get(_key(database))
    if waiters is not None:
        waiters.discard(event)


class PostgresListener:
    """LISTENs on the outbox channel on its own connection and calls ``on_notify``.

    ``on_notify`` runs for every NOTIFY (and once after each (re)connect);
    ``on_foreign`` also runs for a NOTIFY sent by another process (any payload but
    :data:`PROCESS_TOKEN`): the sign that writers elsewhere are active.
    Reconnects on its own (with a capped backoff) when the connection drops; the
    relay polls meanwhile, so losing the listener costs latency, never rows.
    """

    def __init__(
        self,
        database: Database,
        on_notify: Callable[[], None],
        *,
        on_foreign: Callable[[], None] | None = None,
        retry_max: float = 5.0,
    ) -> None:
        self._database = database
        self._on_notify = on_notify
        self._on_foreign = on_foreign
        self._retry_max = retry_max
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def _dsn(self) -> str:
        url = self._database.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def _listen_once(self) -> None:
        # asyncpg ships no type information; SQLAlchemy's pool cannot LISTEN for us.
        asyncpg: Any = importlib.import_module("asyncpg")
        connection = await asyncpg.connect(self._dsn())
        closed = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _c: closed.set())

            def notified(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
                if payload != PROCESS_TOKEN and self._on_foreign is not None:
                    self._on_foreign()
                self._on_notify()

            await connection.add_listener(NOTIFY_CHANNEL, notified)
            self.connected.set()
            # Rows may have committed while we were not listening.
            self._on_notify()
            await closed.wait()
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):
                await connection.close(timeout=1)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            try:
                await self._listen_once()
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.info("outbox listener on %s: %s", self._database.describe, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tidings-outbox-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> PostgresListener:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
