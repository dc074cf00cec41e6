"""``tidings dlq``: list, show, replay and purge the dead letters of a system's consumers.

Each service keeps its dead letters in its own database; these commands visit the
services that include the ``dead_letters`` table (or the one named with
``--service``).

Replay feeds the original bytes to the consumer that gave them up. It builds
that consumer from the system's ``extras["consumers"]``, a callable
``(service name, Database) -> Iterable[Consumer]``, when the system declares one;
otherwise it publishes the bytes again through the broker (``TIDINGS_BROKER_URL``),
where every consumer that already applied the message skips it through its inbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from tidings.cli.common import (
    ServiceOption,
    SystemOption,
    console,
    load_system,
    run_async,
    services_keeping,
)
from tidings.errors import ConfigurationError, NotFound
from tidings.inbox import (
    Consumer,
    DeadLetter,
    get_dead_letter,
    list_dead_letters,
    purge_dead_letters,
    replay,
)
from tidings.settings import load_settings
from tidings.storage.database import Database
from tidings.system import Service, System

T = TypeVar("T")

ConsumerOption = Annotated[
    str | None, typer.Option("--consumer", "-c", help="Only this consumer's dead letters.")
]

dlq_app = typer.Typer(help="Dead letters: list, show, replay, purge.", no_args_is_help=True)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``7d`` or ``2w`` as a timedelta."""
    match = _DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration like 30s, 15m, 12h, 7d or 2w")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def services_with_dead_letters(system: System, names: list[str] | None) -> list[Service]:
    if names:
        return system.select(names)
    chosen = services_keeping(system, "dead_letters")
    if not chosen:
        raise ConfigurationError(f"no service of system {system.name} has a dead-letter store")
    return chosen


async def _each_service(
    system: System,
    services: list[Service],
    action: Callable[[Service, Database], Awaitable[T]],
) -> list[tuple[Service, T]]:
    results: list[tuple[Service, T]] = []
    for service in services:
        async with system.database(service.name) as database:
            results.append((service, await action(service, database)))
    return results


async def _find(
    system: System, services: list[Service], dead_letter_id: str
) -> tuple[Service, DeadLetter]:
    for service in services:
        async with system.database(service.name) as database:
            try:
                return service, await get_dead_letter(database, dead_letter_id)
            except NotFound:
                continue
    names = ", ".join(service.name for service in services)
    raise NotFound(f"no dead letter {dead_letter_id} in {names}")


@dlq_app.command("list")
def list_command(
    system: SystemOption,
    service: ServiceOption = None,
    consumer: ConsumerOption = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="At most this many per service.")
    ] = 50,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only dead letters not replayed yet.")
    ] = False,
) -> None:
    """Dead letters per service, newest first."""
    chosen = load_system(system)

    async def load(_service: Service, database: Database) -> list[DeadLetter]:
        return await list_dead_letters(
            database, consumer=consumer, include_replayed=not pending, limit=limit
        )

    found = run_async(_each_service(chosen, services_with_dead_letters(chosen, service), load))
    if not any(letters for _, letters in found):
        console.print("no dead letters")
        return
    for owner, letters in found:
        if not letters:
            continue
        # The id is what the other commands take: never truncate it.
        table = Table(title=f"{owner.name}: {len(letters)} dead letters", title_justify="left")
        table.add_column("id", no_wrap=True)
        for heading in ("consumer", "reason", "type", "tries", "failed at", "replayed"):
            table.add_column(heading, overflow="fold")
        for letter in letters:
            table.add_row(
                letter.id,
                letter.consumer,
                letter.reason,
                letter.message_type or "-",
                str(letter.attempts),
                letter.failed_at.isoformat(timespec="seconds"),
                letter.replay_outcome or "-",
            )
        console.print(table)


def _body_text(body: bytes) -> str:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return f"<{len(body)} bytes, not UTF-8> {body[:200].hex()}"
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@dlq_app.command("show")
def show_command(
    dead_letter_id: Annotated[str, typer.Argument(metavar="ID", help="The dead letter's id.")],
    system: SystemOption,
    service: ServiceOption = None,
) -> None:
    """One dead letter: why it failed, its headers and its original body."""
    chosen = load_system(system)
    owner, letter = run_async(
        _find(chosen, services_with_dead_letters(chosen, service), dead_letter_id)
    )
    fields: list[tuple[str, Any]] = [
        ("id", letter.id),
        ("service", owner.name),
        ("consumer", letter.consumer),
        ("reason", letter.reason),
        ("message id", letter.message_id),
        ("type", letter.message_type),
        ("topic", letter.topic),
        ("attempts", letter.attempts),
        ("failed at", letter.failed_at.isoformat()),
        ("replayed at", letter.replayed_at.isoformat() if letter.replayed_at else None),
        ("replay outcome", letter.replay_outcome),
    ]
    for name, value in fields:
        console.print(f"{name + ':':<16}{'-' if value is None else value}", markup=False)
    console.print("headers:", markup=False)
    console.print(json.dumps(dict(letter.headers), indent=2, ensure_ascii=False), markup=False)
    console.print("error:", markup=False)
    console.print(letter.error, markup=False, soft_wrap=True)
    console.print("body:", markup=False)
    console.print(_body_text(letter.body), markup=False, soft_wrap=True)


ConsumerFactory = Callable[[str, Database], Iterable[Consumer]]


async def _replay(system: System, services: list[Service], dead_letter_id: str) -> str:
    owner, letter = await _find(system, services, dead_letter_id)
    factory: ConsumerFactory | None = system.extras.get("consumers")
    async with system.database(owner.name) as database:
        if factory is not None:
            for consumer in factory(owner.name, database):
                if consumer.name == letter.consumer:
                    outcome = await replay(database, dead_letter_id, consumer)
                    assert outcome is not None
                    return f"replayed through consumer {consumer.name}: {outcome.value}"
        settings = load_settings()
        if settings.broker_url.startswith("memory"):
            raise ConfigurationError(
                f"system {system.name} declares no consumer {letter.consumer} "
                "(extras['consumers']) and the broker is in-process: nothing outside "
                "the running system could receive a replay"
            )
        from tidings.brokers.factory import broker_from_url

        async with broker_from_url(settings.broker_url, namespace=system.name) as broker:
            await replay(database, dead_letter_id, broker)
        return f"published again on {letter.topic}"


@dlq_app.command("replay")
def replay_command(
    dead_letter_id: Annotated[str, typer.Argument(metavar="ID", help="The dead letter's id.")],
    system: SystemOption,
    service: ServiceOption = None,
) -> None:
    """Feed a dead letter's original bytes to its consumer again.

    If it fails again it becomes a new dead letter; the replayed one is marked.
    """
    chosen = load_system(system)
    summary = run_async(
        _replay(chosen, services_with_dead_letters(chosen, service), dead_letter_id)
    )
    console.print(f"{dead_letter_id}: {summary}", markup=False)


@dlq_app.command("purge")
def purge_command(
    system: SystemOption,
    service: ServiceOption = None,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="Purge this dead letter (repeatable).")
    ] = None,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Purge those that failed before, e.g. 7d.")
    ] = None,
    consumer: ConsumerOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Purge every dead letter of the chosen services.")
    ] = False,
) -> None:
    """Delete dead letters by id, by age, or all of them (--all)."""
    if not ids and older_than is None and not everything:
        raise typer.BadParameter("say which: --id ID, --older-than 7d or --all")
    age = parse_duration(older_than) if older_than is not None else None
    if everything and age is None:
        age = timedelta(0)
    chosen = load_system(system)

    async def purge(_service: Service, database: Database) -> int:
        return await purge_dead_letters(
            database, ids=ids or None, older_than=age, consumer=consumer
        )

    results = run_async(_each_service(chosen, services_with_dead_letters(chosen, service), purge))
    for owner, count in results:
        console.print(f"{owner.name}: purged {count}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")


__all__ = ["dlq_app", "parse_duration", "register"]
