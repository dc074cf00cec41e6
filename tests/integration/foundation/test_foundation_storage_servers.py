"""The storage conformance suites on PostgreSQL and MariaDB."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import pytest

from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.testing.databases import temporary_database
from tidings.testing.storage import StorageConformance


@pytest.mark.postgres
class TestStoragePostgres(StorageConformance):
    def create_database(self) -> AbstractAsyncContextManager[Database]:
        return temporary_database(Backend.POSTGRESQL)


@pytest.mark.mariadb
class TestStorageMariaDB(StorageConformance):
    def create_database(self) -> AbstractAsyncContextManager[Database]:
        return temporary_database(Backend.MARIADB)
