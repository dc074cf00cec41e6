"""The names provisioning gives a service's database and roles.

For system ``notes`` and service ``auth``: database ``notes_auth``, owner role
``notes_auth_owner`` (runs migrations, owns the tables) and runtime role
``notes_auth_app`` (owns nothing). Names are checked before they reach SQL, since
DDL cannot take bound parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tidings.errors import ConfigurationError

# Lower case so PostgreSQL needs no quoting; 63 is PostgreSQL's identifier limit.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PASSWORD = re.compile(r"^[A-Za-z0-9_\-.~]{8,200}$")


def identifier(name: str) -> str:
    """``name`` if it is safe to splice into DDL unquoted, else ConfigurationError."""
    if not _IDENTIFIER.match(name):
        raise ConfigurationError(
            f"{name!r} cannot name a database or role: use lower-case letters, digits and "
            "underscores, at most 63 characters"
        )
    return name


def password_literal(password: str) -> str:
    """``password`` as a SQL string literal; only URL-safe characters are accepted."""
    if not _PASSWORD.match(password):
        raise ConfigurationError("a role password must be 8-200 URL-safe characters")
    return f"'{password}'"


@dataclass(frozen=True)
class ServiceNames:
    service: str
    database: str
    owner: str
    runtime: str


def service_names(system: str, service: str) -> ServiceNames:
    base = f"{system}_{service}".lower()
    return ServiceNames(
        service=service,
        database=identifier(base),
        owner=identifier(f"{base}_owner"),
        runtime=identifier(f"{base}_app"),
    )
