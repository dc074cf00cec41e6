from __future__ import annotations

import pytest

from tidings.errors import ConfigurationError
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.storage.urls import hide_password, parse_url


@pytest.mark.parametrize(
    ("url", "driver", "backend"),
    [
        ("postgresql://u:p@h/db", "postgresql+asyncpg", Backend.POSTGRESQL),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg", Backend.POSTGRESQL),
        ("mysql://root@h/db", "mysql+asyncmy", Backend.MARIADB),
        ("mariadb://root@h/db", "mysql+asyncmy", Backend.MARIADB),
        ("sqlite:///x.db", "sqlite+aiosqlite", Backend.SQLITE),
    ],
)
def test_urls_switch_to_the_async_driver_of_their_backend(
    url: str, driver: str, backend: Backend
) -> None:
    database = Database("orders", url)
    assert database.url.drivername == driver
    assert database.backend is backend


def test_a_password_never_appears_in_what_is_printed() -> None:
    database = Database("orders", "postgresql://app:s3cret@db.local/orders")
    assert "s3cret" not in repr(database)
    assert "s3cret" not in database.describe
    assert hide_password("postgresql://app:s3cret@h/db") == "postgresql://app:***@h/db"


def test_an_unsupported_backend_names_the_service_and_the_scheme() -> None:
    with pytest.raises(ConfigurationError, match=r"service orders: .*'oracle'"):
        parse_url("oracle://u:pw@h/db", service="orders")


def test_garbage_is_not_a_database_url() -> None:
    with pytest.raises(ConfigurationError, match=r"service users: .* is not a database URL"):
        parse_url("no scheme here", service="users")
