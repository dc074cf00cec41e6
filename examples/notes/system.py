"""The notes system: the design's Notes App split into three services.

auth owns users and password hashes, notes owns the notes, user owns profiles;
each has its own database and audit log, and none imports another.
"""

from __future__ import annotations

from pathlib import Path

from examples.notes.auth.tables import metadata as auth_metadata
from examples.notes.demo import run_demo
from examples.notes.notes.authors import authors as _authors  # noqa: F401  (declares notes' authors table)
from examples.notes.notes.tables import metadata as notes_metadata
from examples.notes.user.tables import metadata as user_metadata
from tidings.system import Service, System

_HERE = Path(__file__).parent

system = System(
    name="notes",
    description="a notes app split into auth, notes and user services",
    services=(
        Service(
            name="auth",
            metadata=auth_metadata,
            migrations=_HERE / "auth" / "migrations",
            description="users: email and password hash",
        ),
        Service(
            name="notes",
            metadata=notes_metadata,
            migrations=_HERE / "notes" / "migrations",
            description="notes: user id, content, created at",
            library_tables=("audit_log", "inbox", "dead_letters"),
        ),
        Service(
            name="user",
            metadata=user_metadata,
            migrations=_HERE / "user" / "migrations",
            description="profiles: display name and bio",
            library_tables=("audit_log", "outbox"),
        ),
    ),
    demo=run_demo,
)
