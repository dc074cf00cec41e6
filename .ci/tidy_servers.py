"""Before the suite: clear what earlier test runs left on the shared servers, and make
sure RabbitMQ and NATS answer at the protocol level, not only on their ports.

Every queue, exchange, stream, database and role the tests and benchmarks create is
named ``tidings_...``; an interrupted run can leave some behind. Thousands of leftover
quorum queues make RabbitMQ slow to accept connections, so they go first. A broker that
still does not complete a handshake is restarted once with the machine's own command.

Usage: ``.venv/bin/python .ci/tidy_servers.py`` (CI only: it deletes ``tidings_*`` objects).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time

import aio_pika
import asyncpg
import nats

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
NATS_URL = "nats://127.0.0.1:4222"
PREFIXES = ("tidings_", "tidings-", "shop_t_", "e2e_", "inbox", "dlq")
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def say(text: str) -> None:
    print(f"ci: {text}", flush=True)


def ours(name: str) -> bool:
    return name.startswith(PREFIXES)


def rabbitmqctl(*args: str, timeout: float = 300) -> list[str]:
    command = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    done = subprocess.run(
        [command, "-q", *args], capture_output=True, text=True, timeout=timeout, check=True
    )
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


async def amqp_handshake_ok(attempts: int = 3) -> bool:
    """Connect, declare a throwaway queue, publish with a confirm: the whole path."""
    for _ in range(attempts):
        try:
            async with asyncio.timeout(15):
                connection = await aio_pika.connect(AMQP_URL, timeout=10)
                async with connection:
                    channel = await connection.channel(publisher_confirms=True)
                    queue = await channel.declare_queue(exclusive=True)
                    await channel.default_exchange.publish(
                        aio_pika.Message(b"ping"), routing_key=queue.name
                    )
            return True
        except Exception as error:
            say(f"RabbitMQ handshake failed: {type(error).__name__}: {error}")
            await asyncio.sleep(2)
    return False


def restart_rabbitmq() -> None:
    say("restarting RabbitMQ")
    try:
        subprocess.run(["rabbitmqctl", "stop"], timeout=120, check=False)
    except subprocess.TimeoutExpired:
        # A node too wedged to stop cleanly: its queues are durable, so a kill loses nothing.
        subprocess.run(["pkill", "-KILL", "-f", "beam.smp"], check=False)
    subprocess.run(["rabbitmq-server", "-detached"], timeout=60, check=False)
    try:
        subprocess.run(
            ["rabbitmqctl", "await_startup", "--timeout", "300"], timeout=330, check=False
        )
    except subprocess.TimeoutExpired:
        say("RabbitMQ did not report its start-up in time")


async def tidy_rabbitmq() -> None:
    try:
        queues = [name for name in rabbitmqctl("list_queues", "--no-table-headers", "name")]
        exchanges = rabbitmqctl("list_exchanges", "--no-table-headers", "name")
    except (subprocess.SubprocessError, OSError) as error:
        say(f"cannot list RabbitMQ queues ({error}); skipping its clean-up")
        queues, exchanges = [], []
    stale_queues = [name for name in queues if ours(name)]
    stale_exchanges = [name for name in exchanges if ours(name)]
    if stale_queues or stale_exchanges:
        started = time.monotonic()
        connection = await aio_pika.connect(AMQP_URL, timeout=30)
        async with connection:
            channel = await connection.channel()
            for name in stale_queues:
                await channel.queue_delete(name)
            for name in stale_exchanges:
                await channel.exchange_delete(name)
        say(
            f"RabbitMQ: deleted {len(stale_queues)} queues and {len(stale_exchanges)} "
            f"exchanges left by earlier runs in {time.monotonic() - started:.1f}s"
        )


async def check_rabbitmq() -> None:
    if not await amqp_handshake_ok():
        restart_rabbitmq()
        if not await amqp_handshake_ok(attempts=90):  # a node takes a while to boot
            raise SystemExit("ci: RabbitMQ does not complete an AMQP handshake")
    say("RabbitMQ completes a handshake and confirms a publish")


async def tidy_nats() -> None:
    client = await nats.connect(NATS_URL, connect_timeout=10)
    try:
        js = client.jetstream()
        streams = await js.streams_info()
        stale = [
            info.config.name for info in streams if info.config.name and ours(info.config.name)
        ]
        for name in stale:
            await js.delete_stream(name)
        if stale:
            say(f"NATS: deleted {len(stale)} streams left by earlier runs")
        await js.account_info()
    finally:
        await client.close()
    say("NATS JetStream answers")


async def _stale(connection: asyncpg.Connection, query: str) -> list[str]:
    """The names ``query`` returns (first column) that earlier runs left."""
    return [row[0] for row in await connection.fetch(query) if ours(row[0])]


async def tidy_postgres() -> None:
    connection = await asyncpg.connect(POSTGRES_DSN, timeout=30)
    try:
        names = await _stale(connection, "SELECT datname FROM pg_database")
        for name in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        roles = await _stale(connection, "SELECT rolname FROM pg_roles")
        for role in roles:
            await connection.execute(f'DROP ROLE IF EXISTS "{role}"')
        if names or roles:
            say(f"PostgreSQL: dropped {len(names)} databases and {len(roles)} roles")
    finally:
        await connection.close()


def tidy_mariadb() -> None:
    def query(sql: str) -> list[str]:
        done = subprocess.run(
            ["mariadb", "-uroot", "-h127.0.0.1", "-N", "-e", sql],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    schemas = [
        name for name in query("SELECT schema_name FROM information_schema.schemata") if ours(name)
    ]
    users = [
        line.split("\t")
        for line in query("SELECT user, host FROM mysql.user")
        if ours(line.split("\t")[0])
    ]
    statements = [f"DROP DATABASE IF EXISTS `{name}`;" for name in schemas]
    statements += [f"DROP USER IF EXISTS '{user}'@'{host}';" for user, host in users]
    if statements:
        query(" ".join(statements))
        say(f"MariaDB: dropped {len(schemas)} databases and {len(users)} users")


async def main() -> None:
    steps = [
        ("RabbitMQ", tidy_rabbitmq()),
        ("NATS", tidy_nats()),
        ("PostgreSQL", tidy_postgres()),
        ("MariaDB", asyncio.to_thread(tidy_mariadb)),
    ]
    for server, step in steps:
        try:
            await step
        except Exception as error:
            print(
                f"ci: {server} clean-up incomplete: {type(error).__name__}: {error}",
                file=sys.stderr,
            )
    # A broker that cannot take a connection would fail the suite slowly, test by test.
    await check_rabbitmq()


if __name__ == "__main__":
    asyncio.run(main())
