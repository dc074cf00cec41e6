"""Names provisioning splices into DDL are checked first."""

from __future__ import annotations

import pytest

from tidings.errors import ConfigurationError
from tidings.provisioning.names import identifier, password_literal, service_names
from tidings.provisioning.servers import parse_backend
from tidings.storage.capabilities import Backend


def test_a_service_gets_a_database_an_owner_and_a_runtime_role() -> None:
    names = service_names("notes", "auth")
    assert (names.database, names.owner, names.runtime) == (
        "notes_auth",
        "notes_auth_owner",
        "notes_auth_app",
    )


@pytest.mark.parametrize(
    "name", ["Robert'); DROP TABLE users;--", "has space", "1starts_with_digit", "x" * 64, ""]
)
def test_unsafe_identifiers_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError):
        identifier(name)


def test_passwords_with_quotes_never_reach_sql() -> None:
    assert password_literal("abc-DEF_123") == "'abc-DEF_123'"
    with pytest.raises(ConfigurationError):
        password_literal("x' OR '1'='1")


def test_backends_are_named_as_the_cli_spells_them() -> None:
    assert parse_backend("postgres") is Backend.POSTGRESQL
    assert parse_backend("mariadb") is Backend.MARIADB
    assert parse_backend("sqlite") is Backend.SQLITE
    with pytest.raises(ConfigurationError, match="oracle"):
        parse_backend("oracle")
