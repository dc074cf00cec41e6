from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from tidings import errors
from tidings.storage.errors import mapped_errors, translate


class _DriverError(Exception):
    pass


@pytest.mark.parametrize(
    ("wrapped", "expected"),
    [
        (sa_exc.IntegrityError, errors.IntegrityError),
        (sa_exc.OperationalError, errors.OperationalError),
        (sa_exc.ProgrammingError, errors.ProgrammingError),
        (sa_exc.DataError, errors.DataError),
        (sa_exc.NotSupportedError, errors.NotSupportedError),
        (sa_exc.InternalError, errors.OperationalError),
    ],
)
def test_pep249_errors_map_to_the_tidings_tree(
    wrapped: type[sa_exc.DBAPIError], expected: type[errors.StorageError]
) -> None:
    error = wrapped("INSERT ...", {}, _DriverError("duplicate key value"))
    mapped = translate(error, context="service orders")
    assert type(mapped) is expected
    assert str(mapped) == "service orders: duplicate key value"


def test_a_trigger_refusal_is_an_append_only_violation() -> None:
    error = sa_exc.OperationalError(
        "UPDATE audit_log",
        {},
        _DriverError("UPDATE on audit_log refused: the table is append-only"),
    )
    assert isinstance(translate(error), errors.AppendOnlyViolation)


def test_the_statement_text_alone_does_not_make_an_append_only_violation() -> None:
    error = sa_exc.ProgrammingError("CREATE FUNCTION ... append-only ...", {}, _DriverError("bad"))
    assert type(translate(error)) is errors.ProgrammingError


def test_mapped_errors_lets_tidings_and_foreign_errors_pass() -> None:
    with pytest.raises(errors.NotFound), mapped_errors():
        raise errors.NotFound("x")
    with pytest.raises(KeyError), mapped_errors():
        raise KeyError("x")
    with pytest.raises(errors.OperationalError), mapped_errors("service x"):
        raise ConnectionRefusedError("refused")


def _mariadb_error(code: int, message: str) -> Exception:
    from asyncmy.errors import OperationalError

    return OperationalError(code, message)


class _PostgresError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("driver_error", "expected"),
    [
        (_mariadb_error(1213, "Deadlock found when trying to get lock"), errors.LockConflict),
        (_mariadb_error(1205, "Lock wait timeout exceeded"), errors.LockConflict),
        (_mariadb_error(2013, "Lost connection to server"), errors.OperationalError),
        (_PostgresError("deadlock detected", "40P01"), errors.LockConflict),
        (_PostgresError("could not serialize access", "40001"), errors.LockConflict),
        (_PostgresError("terminating connection", "57P01"), errors.OperationalError),
    ],
)
def test_lost_lock_races_are_lock_conflicts(
    driver_error: Exception, expected: type[errors.StorageError]
) -> None:
    mapped = translate(sa_exc.OperationalError("INSERT INTO events ...", {}, driver_error))
    assert type(mapped) is expected
    assert isinstance(mapped, errors.OperationalError)
