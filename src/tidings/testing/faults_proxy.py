"""A loopback TCP proxy between services and their broker that can cut the line.

From a service's side a cut proxy *is* a broker outage: new connections are
refused (nothing listens on the port) and open ones are dropped mid-stream, while
the shared broker behind it keeps running for everybody else. ::

    async with BrokerProxy("amqp://guest:guest@127.0.0.1:5672/") as proxy:
        run_services(broker_url=proxy.url)      # the services connect through it
        await proxy.outage(40)                  # cut for 40 s, then heal
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671, "nats": 4222, "tls": 4222}
_CHUNK = 64 * 1024


class BrokerProxy:
    """Forwards ``127.0.0.1:<port>`` to the broker of ``upstream_url``; cut and heal it."""

    def __init__(self, upstream_url: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"cannot proxy {upstream_url!r}: need an amqp:// or nats:// URL")
        self.upstream_url = upstream_url
        self.upstream = (parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme])
        self.host = host
        self.port = port
        self.accepted = 0
        """Connections forwarded since the start."""
        self.dropped = 0
        """Open connections cut by :meth:`cut`."""
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """``upstream_url`` with the proxy's address in place of the broker's."""
        parts = urlsplit(self.upstream_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@" if credentials else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}{self.host}:{self.port}"))

    @property
    def is_cut(self) -> bool:
        return self._server is None

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def start(self) -> None:
        """Listen (on a free port the first time, on the same port after a cut)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._forward, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and drop every open one (a reset, not a goodbye)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        links, self._links = self._links, set()
        for client, upstream in links:
            for writer in (client, upstream):
                _reset(writer)
        self.dropped += len(links)
        pumps, self._pumps = self._pumps, set()
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

    async def heal(self) -> None:
        """Accept connections again on the same port."""
        await self.start()

    async def outage(self, seconds: float) -> None:
        """Cut, keep the line down for ``seconds``, heal."""
        await self.cut()
        try:
            await asyncio.sleep(seconds)  # the outage's length is the fault itself
        finally:
            await self.heal()

    async def close(self) -> None:
        await self.cut()

    async def __aenter__(self) -> BrokerProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        if self._server is None:  # cut while connecting upstream
            _reset(writer)
            _reset(up_writer)
            return
        self.accepted += 1
        link = (writer, up_writer)
        self._links.add(link)
        pumps = [
            asyncio.ensure_future(_pump(reader, up_writer)),
            asyncio.ensure_future(_pump(up_reader, writer)),
        ]
        self._pumps.update(pumps)
        try:
            # Either side closing ends the link: the other side is told by a close.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
                self._pumps.discard(pump)
            if link in self._links:
                self._links.discard(link)
                for side in link:
                    side.close()


async def _pump(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await source.read(_CHUNK):
            target.write(data)
            await target.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (linger 0), as a dead host or a killed broker would look."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
