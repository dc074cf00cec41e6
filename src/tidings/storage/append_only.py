"""DDL that makes a table append-only at the database, for every backend.

A trigger refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) for every role,
the owner included; grants keep the runtime role to SELECT and INSERT. MariaDB's
TRUNCATE fires no trigger: there the owner is refused it by holding no DROP (see
:mod:`tidings.provisioning.mariadb`). Each trigger's message contains
``append-only`` so the error mapping can recognise it.
"""

from __future__ import annotations

from tidings.storage.capabilities import Backend


def create_statements(backend: Backend, table: str) -> list[str]:
    if backend is Backend.POSTGRESQL:
        return [
            # One shared function; CREATE OR REPLACE keeps repeated migrations idempotent.
            "CREATE OR REPLACE FUNCTION tidings_refuse_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
            "'% on % refused: the table is append-only', TG_OP, TG_TABLE_NAME "
            "USING ERRCODE = 'raise_exception'; END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION tidings_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION tidings_refuse_change()",
        ]
    if backend is Backend.MARIADB:
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} FOR EACH ROW "
            f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'UPDATE on {table} refused: "
            "the table is append-only'",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW "
            f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'DELETE on {table} refused: "
            "the table is append-only'",
        ]
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'UPDATE on {table} refused: the table is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'DELETE on {table} refused: the table is append-only'); END",
    ]


def drop_statements(backend: Backend, table: str) -> list[str]:
    if backend is Backend.POSTGRESQL:
        return [
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        ]
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"DROP TRIGGER IF EXISTS {table}_no_delete",
    ]
