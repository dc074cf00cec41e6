"""One layout for `db provision`, `up`, `db drop` and `isolation check`, and the
embedded files `db drop` removes with the databases."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from shop.system import system as shop
from tidings.errors import ConfigurationError
from tidings.provisioning import layout, remove_service_files
from tidings.settings import Settings
from tidings.storage.capabilities import Backend


def names(groups: dict[Backend, list]) -> dict[Backend, list[str]]:
    return {backend: [service.name for service in group] for backend, group in groups.items()}


def test_services_keep_the_backend_they_declare_unless_uniform() -> None:
    mixed = names(layout(shop, Backend.POSTGRESQL))
    assert mixed[Backend.MARIADB] == ["payments"]
    assert mixed[Backend.SQLITE] == ["notifications"]
    assert "payments" not in mixed[Backend.POSTGRESQL]
    on_mariadb = names(layout(shop, Backend.MARIADB))
    assert set(on_mariadb) == {Backend.MARIADB, Backend.SQLITE}
    assert names(layout(shop, Backend.POSTGRESQL, uniform=True)) == {
        Backend.POSTGRESQL: [service.name for service in shop.services]
    }
    assert list(layout(shop, Backend.SQLITE)) == [Backend.SQLITE]


def test_service_files_are_removed_once_and_only_inside_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    chdb = tmp_path / "shop" / "analytics.chdb"
    (chdb / "store").mkdir(parents=True)
    (chdb / "store" / "part.bin").write_bytes(b"facts")
    assert remove_service_files(shop, settings) == [str(chdb.resolve())]
    assert not chdb.exists()
    assert remove_service_files(shop, settings) == []

    analytics = dataclasses.replace(shop.service("analytics"), files=("../../elsewhere",))
    escaping = dataclasses.replace(shop, services=(analytics,))
    with pytest.raises(ConfigurationError, match="outside the data folder"):
        remove_service_files(escaping, settings)
