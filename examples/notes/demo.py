"""The notes demo: migrate each service's database, use them, and show the guarantees.

It runs on whatever each service's URL names (its SQLite file by default) and can
be run again and again: the user and profile are reused, each run adds a note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text

from examples.notes.auth import operations as auth
from examples.notes.notes import operations as notes
from examples.notes.replication import Replication, wait_for_author
from examples.notes.user import operations as user
from examples.notes.user import publishing
from tidings import provisioning
from tidings.audit import audit_log
from tidings.brokers import broker_from_url
from tidings.errors import ConcurrencyError, DatabaseError
from tidings.settings import Settings
from tidings.storage.database import Database

if TYPE_CHECKING:
    from tidings.system import System

DEMO_EMAIL = "ada@example.com"
DEMO_PASSWORD = "correct horse battery staple"


async def run_demo(system: System, settings: Settings) -> None:
    console = Console(highlight=False)
    databases = {
        service.name: system.database(service.name, settings) for service in system.services
    }
    try:
        await _migrate(system, settings, databases, console)
        broker = broker_from_url(settings.broker_url, namespace=system.name)
        async with broker, Replication(databases["user"], databases["notes"], broker):
            steps = await _exercise(databases)
        await _show(databases, steps, console)
    finally:
        for database in databases.values():
            await database.close()


async def _migrate(
    system: System, settings: Settings, databases: dict[str, Database], console: Console
) -> None:
    table = Table(title="Each service migrates its own database")
    for column in ("service", "database", "revision", "tables"):
        table.add_column(column, overflow="fold")
    for service in system.services:
        database = databases[service.name]
        # As the owner when provisioned (then the runtime role is granted its tables).
        revision = await provisioning.upgrade(system, service, settings)
        table.add_row(service.name, database.safe_url, revision or "-", ", ".join(service.tables))
    console.print(table)


async def _exercise(databases: dict[str, Database]) -> list[tuple[str, str]]:
    """Run the operations; return (what was tried, what happened) for each step."""
    steps: list[tuple[str, str]] = []
    account = await auth.find_user(databases["auth"], DEMO_EMAIL)
    if account is None:
        account = await auth.register_user(databases["auth"], DEMO_EMAIL, DEMO_PASSWORD)
        steps.append(("auth: register " + DEMO_EMAIL, f"user {account.id[:8]}"))
    else:
        steps.append(("auth: register " + DEMO_EMAIL, f"already registered as {account.id[:8]}"))
    verified = await auth.check_password(databases["auth"], DEMO_EMAIL, DEMO_PASSWORD)
    steps.append(("auth: check the password (scrypt)", "accepted" if verified else "REJECTED"))

    profile = await user.get_profile(databases["user"], account.id)
    if profile is None:
        profile = await publishing.create_profile(databases["user"], account.id, "Ada")
        steps.append(("user: create profile", f"version {profile.version}"))
    profile = await publishing.update_profile(
        databases["user"],
        account.id,
        profile.version,
        display_name="Ada Lovelace",
        bio=f"edited {profile.version} times",
    )
    steps.append(("user: update profile", f"now at version {profile.version}"))
    author = await wait_for_author(databases["notes"], account.id, profile.version)
    steps.append(
        (
            "notes: author name replicated (outbox, relay, broker, inbox)",
            f"{author.display_name!r} at profile version {author.profile_version}",
        )
    )

    note = await notes.create_note(databases["notes"], account.id, "buy milk")
    steps.append(("notes: create a note", f"note {note.id[:8]} at version {note.version}"))
    edited = await notes.update_note(databases["notes"], note.id, note.version, "buy oat milk")
    steps.append(("notes: edit it (read version 1)", f"now at version {edited.version}"))
    try:
        await notes.update_note(databases["notes"], note.id, note.version, "buy cow milk")
        steps.append(("notes: edit again with stale version 1", "ACCEPTED (a lost update!)"))
    except ConcurrencyError as refused:
        steps.append(("notes: edit again with stale version 1", f"refused: {refused}"))

    try:
        async with databases["notes"].transaction() as connection:
            await connection.execute(text("UPDATE audit_log SET action = 'tampered'"))
        steps.append(("notes: UPDATE audit_log", "ACCEPTED (the log is not append-only!)"))
    except DatabaseError as refused:
        # The trigger refuses every role; a provisioned runtime role lacks the privilege too.
        steps.append(("notes: UPDATE audit_log", f"refused by the database: {_reason(refused)}"))
    return steps


def _reason(error: Exception) -> str:
    # The message starts with the service and URL; the demo's table already shows those.
    return str(error).rsplit(": ", 1)[-1]


async def _show(
    databases: dict[str, Database], steps: list[tuple[str, str]], console: Console
) -> None:
    done = Table(title="What the demo did")
    done.add_column("step")
    done.add_column("outcome")
    for step, outcome in steps:
        done.add_row(step, outcome)
    console.print(done)

    audit = Table(title="Audit log entries per service (append-only)")
    audit.add_column("service")
    audit.add_column("entries", justify="right")
    for name, database in databases.items():
        async with database.connect() as connection:
            count = (await connection.execute(select(func.count()).select_from(audit_log))).scalar()
        audit.add_row(name, str(count))
    console.print(audit)
