"""The storage conformance suites on SQLite (no server)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.testing.databases import temporary_database
from tidings.testing.storage import StorageConformance


class TestStorageSQLite(StorageConformance):
    def create_database(self) -> AbstractAsyncContextManager[Database]:
        return temporary_database(Backend.SQLITE)
