"""What ``tidings up`` checks before it provisions anything."""

from __future__ import annotations

import re
import socket

import pytest

from shop.system import system as shop_system
from tidings.errors import ConfigurationError
from tidings.processes.stack import broker_address, broker_url, check_servers
from tidings.settings import Settings
from tidings.storage.capabilities import Backend


def test_broker_urls_are_read_for_their_host_and_port() -> None:
    assert broker_address("amqp://guest:guest@10.0.0.5/") == ("10.0.0.5", 5672)
    assert broker_address("nats://127.0.0.1:4333") == ("127.0.0.1", 4333)
    assert broker_address("nats://a:4222,b:4223") == ("a", 4222)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("kafka://127.0.0.1:9092", "scheme 'kafka' is not one of"),
        ("127.0.0.1:5672", "scheme '(none)'"),
        ("amqp://guest@:5672/", "names no host"),
        ("nats://127.0.0.1:port", "malformed"),
    ],
)
def test_a_bad_broker_url_is_refused_naming_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(complaint)):
        broker_url(url, Settings())


def test_the_in_process_broker_cannot_join_processes() -> None:
    with pytest.raises(ConfigurationError, match="shared broker"):
        broker_url("memory://", Settings())


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_servers_that_do_not_answer_are_named_before_anything_is_made() -> None:
    port = _closed_port()
    settings = Settings(admin_postgres_url=f"postgresql://postgres@127.0.0.1:{port}/postgres")
    with pytest.raises(ConfigurationError) as raised:
        await check_servers(
            shop_system, Backend.POSTGRESQL, f"amqp://guest:guest@127.0.0.1:{port}/", settings
        )
    message = str(raised.value)
    assert f"the broker at 127.0.0.1:{port} (amqp) does not answer" in message
    assert f"postgresql at 127.0.0.1:{port} does not answer" in message


async def test_sqlite_needs_only_the_broker() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        # Every service on SQLite files: no database server to check.
        await check_servers(shop_system, Backend.SQLITE, f"nats://127.0.0.1:{port}", Settings())
