"""Mapping of driver errors to the tidings error tree, at the database edge.

asyncpg, asyncmy and sqlite3 each raise their own exceptions; SQLAlchemy wraps
them in PEP 249 classes. :func:`mapped_errors` turns either into the tree drawn
in :mod:`tidings.errors`, so callers catch ``IntegrityError`` whatever the backend.
An UPDATE or DELETE refused by an append-only trigger becomes
``AppendOnlyViolation``: every trigger the library installs says ``append-only``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from tidings import errors

APPEND_ONLY_MARKER = "append-only"

_PEP249_TO_TIDINGS: tuple[tuple[type[BaseException], type[errors.StorageError]], ...] = (
    (sa_exc.IntegrityError, errors.IntegrityError),
    (sa_exc.OperationalError, errors.OperationalError),
    (sa_exc.ProgrammingError, errors.ProgrammingError),
    (sa_exc.DataError, errors.DataError),
    (sa_exc.NotSupportedError, errors.NotSupportedError),
    (sa_exc.InterfaceError, errors.InterfaceError),
    (sa_exc.InternalError, errors.OperationalError),
    (sa_exc.DatabaseError, errors.DatabaseError),
)


def translate(error: BaseException, *, context: str = "") -> errors.StorageError:
    """The tidings error for a SQLAlchemy or driver ``error``."""
    # The driver's own message, not SQLAlchemy's, which also quotes the statement.
    driver_message = str(getattr(error, "orig", None) or error).strip()
    lines = driver_message.splitlines()
    text = lines[0] if lines else type(error).__name__
    if context:
        text = f"{context}: {text}"
    if APPEND_ONLY_MARKER in driver_message:
        return errors.AppendOnlyViolation(text)
    refined = _refine(error, driver_message)
    if refined is not None:
        return refined(text)
    for source, target in _PEP249_TO_TIDINGS:
        if isinstance(error, source):
            return target(text)
    if isinstance(error, OSError | ConnectionError | TimeoutError):
        return errors.OperationalError(text)
    return errors.StorageError(text)


# Drivers disagree on classes for the same failure: sqlite3 calls a missing table an
# OperationalError, asyncmy a denied privilege; asyncpg raises some connect errors
# unwrapped. These rules put them where PostgreSQL's SQLSTATE classes would.
_PROGRAMMING_MESSAGES = ("no such table", "no such column", "command denied")
_OPERATIONAL_SQLSTATE_CLASSES = ("08", "53", "57", "40")
# Lost lock races, which a retry of the whole transaction usually wins: PostgreSQL's
# serialization failure, deadlock and lock_not_available; MariaDB's deadlock (1213,
# the transaction is rolled back) and lock wait timeout (1205, the statement is).
_LOCK_CONFLICT_SQLSTATES = ("40001", "40P01", "55P03")
_LOCK_CONFLICT_MARIADB_CODES = (1205, 1213)


def _refine(error: BaseException, driver_message: str) -> type[errors.StorageError] | None:
    lowered = driver_message.lower()
    if any(marker in lowered for marker in _PROGRAMMING_MESSAGES) and "connect" not in lowered:
        return errors.ProgrammingError
    driver_error = getattr(error, "orig", None) or error
    if _mariadb_code(driver_error) in _LOCK_CONFLICT_MARIADB_CODES:
        return errors.LockConflict
    sqlstate = getattr(driver_error, "sqlstate", None) or getattr(
        getattr(driver_error, "__cause__", None), "sqlstate", None
    )
    if sqlstate in _LOCK_CONFLICT_SQLSTATES:
        return errors.LockConflict
    if isinstance(sqlstate, str) and sqlstate[:2] in _OPERATIONAL_SQLSTATE_CLASSES:
        return errors.OperationalError
    return None


def _mariadb_code(driver_error: BaseException) -> int | None:
    """asyncmy's and pymysql's error number (their first argument), if it has one."""
    if type(driver_error).__module__.split(".")[0] not in ("asyncmy", "pymysql"):
        return None
    args = getattr(driver_error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


@contextmanager
def mapped_errors(context: str = "") -> Iterator[None]:
    """Re-raise driver and SQLAlchemy errors as tidings errors; let others pass."""
    try:
        yield
    except errors.TidingsError:
        raise
    except (sa_exc.DBAPIError, sa_exc.InterfaceError) as error:
        raise translate(error, context=context) from error
    except (OSError, ConnectionError, TimeoutError) as error:
        raise translate(error, context=context) from error
    except Exception as error:
        # Drivers raise some errors outside PEP 249 (asyncpg's connect-time errors).
        if type(error).__module__.split(".")[0] in _DRIVER_MODULES:
            raise translate(error, context=context) from error
        raise


_DRIVER_MODULES = ("asyncpg", "asyncmy", "aiosqlite", "sqlite3", "pymysql")
