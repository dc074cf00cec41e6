"""What ``tidings up`` prepares: every service's database on its backend, migrated,
and the command line that runs each service as its own process."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tidings import provisioning
from tidings.errors import ConfigurationError
from tidings.processes.serving import service_urls
from tidings.processes.supervisor import ProcessSpec
from tidings.provisioning.layout import layout
from tidings.provisioning.servers import admin_url
from tidings.settings import Settings
from tidings.storage.capabilities import Backend
from tidings.system import Service, System

BROKER_ALIASES = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
}
"""``--broker rabbitmq|nats``: the servers on this machine with their default accounts."""

RUNTIME_ENV_EXTRA = "runtime_env"

# Runs the CLI in the child with the supervisor's interpreter, whatever is on PATH.
_CLI = ("-c", "from tidings.cli import main; main()")


def broker_url(choice: str | None, settings: Settings) -> str:
    """``choice`` as a broker URL (an alias or a URL), else ``TIDINGS_BROKER_URL``.

    Processes need a broker they share, so the in-process one is refused.
    """
    url = BROKER_ALIASES.get(choice or "", choice) or settings.broker_url
    if url.startswith("memory:"):
        raise ConfigurationError(
            "services in separate processes need a shared broker: "
            "--broker rabbitmq, nats or an amqp:// or nats:// URL"
        )
    broker_address(url)
    return url


_BROKER_PORTS = {"amqp": 5672, "amqps": 5671, "nats": 4222, "tls": 4222}


def broker_address(url: str) -> tuple[str, int]:
    """The host and port of a broker URL (the first, when NATS lists several, comma
    separated); ConfigurationError naming what is wrong."""
    others = url.split(",")[1:]
    url = url.split(",")[0]
    for other in others:
        broker_address(other if "://" in other else f"{urlsplit(url).scheme}://{other}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ConfigurationError(f"broker URL {url!r} is malformed: {error}") from None
    if parts.scheme not in _BROKER_PORTS:
        raise ConfigurationError(
            f"broker URL {url!r}: scheme {parts.scheme or '(none)'!r} is not one of "
            f"{', '.join(_BROKER_PORTS)} (or use --broker rabbitmq or nats)"
        )
    if not parts.hostname:
        raise ConfigurationError(f"broker URL {url!r} names no host")
    return parts.hostname, port or _BROKER_PORTS[parts.scheme]


async def answers(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether something accepts a TCP connection at ``host:port`` within ``timeout``."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def check_servers(
    system: System, backend: Backend, broker: str, settings: Settings, *, uniform: bool = False
) -> None:
    """Before anything is provisioned: the broker and every database server the
    services go to must answer, so a typo fails in a second with its name, not after
    half the databases were made."""
    problems = []
    host, port = broker_address(broker)
    if not await answers(host, port):
        problems.append(f"the broker at {host}:{port} ({urlsplit(broker).scheme}) does not answer")
    for chosen in backend_groups(system, backend, uniform=uniform):
        if chosen is Backend.SQLITE:
            continue
        url = admin_url(chosen, settings)
        server = (url.host or "127.0.0.1", url.port or _DEFAULT_PORTS[chosen])
        if not await answers(*server):
            problems.append(f"{chosen.value} at {server[0]}:{server[1]} does not answer")
    if problems:
        raise ConfigurationError("; ".join(problems))


_DEFAULT_PORTS = {Backend.POSTGRESQL: 5432, Backend.MARIADB: 3306}


def backend_groups(
    system: System, backend: Backend, *, uniform: bool = False
) -> dict[Backend, list[Service]]:
    """Where each service's database goes: :func:`tidings.provisioning.layout.layout`,
    the same answer ``tidings db provision`` and ``isolation check`` use."""
    return layout(system, backend, uniform=uniform)


async def prepare(
    system: System, backend: Backend, settings: Settings, env_file: Path, *, uniform: bool = False
) -> dict[str, Backend]:
    """Provision (idempotently) and migrate every service's database; the runtime URLs
    land in ``env_file`` and in this process's environment. Returns each service's backend.

    A system whose ``extras["runtime_env"]`` is a function of the variables already
    set gets the variables it returns (secrets its processes share) added to ``env_file``.
    """
    await provisioning.provision_layout(system, backend, settings, env_file, uniform=uniform)
    generate = system.extras.get(RUNTIME_ENV_EXTRA)
    if callable(generate):
        existing = {**os.environ, **provisioning.read_env_file(env_file)}
        provisioning.write_env_file(env_file, generate(existing))
    provisioning.load_env_file(env_file, override=True)
    for service in system.services:
        await provisioning.upgrade(system, service, settings)
    return {
        service.name: chosen
        for chosen, services in layout(system, backend, uniform=uniform).items()
        for service in services
    }


async def teardown(
    system: System, backend: Backend, settings: Settings, *, uniform: bool = False
) -> list[str]:
    """Drop what :func:`prepare` created (databases and roles, or files, and the
    services' embedded files)."""
    return await provisioning.deprovision_layout(system, backend, settings, uniform=uniform)


def process_specs(
    system: System,
    *,
    host: str,
    base_port: int,
    env_file: Path,
    broker: str,
    namespace: str,
    log_dir: Path | None = None,
    cli_system: str | None = None,
    extra_env: dict[str, str] | None = None,
    pool_size: int = 5,
) -> list[ProcessSpec]:
    """One ``tidings run <service>`` per service, on consecutive ports from ``base_port``.

    ``cli_system`` is the name the children load the system by (``system.name`` by
    default); it differs when ``system`` is a renamed copy, e.g. with unique database
    names for a test run.
    """
    urls = service_urls(system, host, base_port)
    specs = []
    for index, service in enumerate(system.services):
        argv: tuple[str, ...] = (
            sys.executable,
            *_CLI,
            "run",
            service.name,
            "--system",
            cli_system or system.name,
            "--host",
            host,
            "--port",
            str(base_port + index),
            "--broker",
            broker,
            "--namespace",
            namespace,
            "--env-file",
            str(env_file),
            "--pool-size",
            str(pool_size),
        )
        if cli_system is not None and cli_system != system.name:
            # A renamed copy keeps its files apart from the original's (and from other
            # copies'), under the folder `db drop` removes.
            argv = (*argv, "--prefix", system.name)
        specs.append(
            ProcessSpec(
                name=service.name,
                argv=argv,
                url=urls[service.name],
                ready_url=f"{urls[service.name]}/health/ready",
                env=dict(extra_env or {}),
                log_path=log_dir / f"{service.name}.log" if log_dir is not None else None,
            )
        )
    return specs
