"""What a database backend can do, as flags the rest of the library asks about.

Code asks ``db.capabilities.skip_locked`` instead of comparing backend names, so a
new backend is one table row here rather than a hunt through every module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Backend(StrEnum):
    POSTGRESQL = "postgresql"
    MARIADB = "mariadb"
    SQLITE = "sqlite"


@dataclass(frozen=True)
class Capabilities:
    skip_locked: bool
    """``SELECT ... FOR UPDATE SKIP LOCKED`` lets several workers claim disjoint rows."""
    listen_notify: bool
    """``LISTEN``/``NOTIFY`` can wake a waiting reader instead of polling."""
    returning: bool
    """``INSERT ... RETURNING`` hands back generated values in the same round trip."""
    row_locks: bool
    """``SELECT ... FOR UPDATE`` locks single rows; without it a write locks the whole database."""
    transactional_ddl: bool
    """DDL rolls back with its transaction, so a failed migration leaves no half-made schema."""
    roles: bool
    """The server has login roles and grants, so a service can be confined to its own database."""


CAPABILITIES: dict[Backend, Capabilities] = {
    Backend.POSTGRESQL: Capabilities(
        skip_locked=True,
        listen_notify=True,
        returning=True,
        row_locks=True,
        transactional_ddl=True,
        roles=True,
    ),
    Backend.MARIADB: Capabilities(
        skip_locked=True,
        listen_notify=False,
        returning=True,
        row_locks=True,
        transactional_ddl=False,
        roles=True,
    ),
    Backend.SQLITE: Capabilities(
        skip_locked=False,
        listen_notify=False,
        returning=True,
        row_locks=False,
        transactional_ddl=True,
        roles=False,
    ),
}
