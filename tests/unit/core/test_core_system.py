from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table

from tidings.errors import ConfigurationError
from tidings.settings import Settings
from tidings.system import Service, System, get_system, register


def _system(name: str = "demo_sys") -> System:
    metadata = MetaData()
    Table("things", metadata, Column("id", Integer, primary_key=True))
    return System(
        name, (Service("alpha", metadata, Path(".")), Service("beta", MetaData(), Path(".")))
    )


def test_the_embedded_default_is_one_sqlite_file_per_service(tmp_path: Path) -> None:
    system = _system()
    settings = Settings(data_dir=tmp_path)
    assert system.database_url("alpha", settings).endswith(f"{tmp_path}/demo_sys/alpha.db")
    assert system.database_url("beta", settings) != system.database_url("alpha", settings)


def test_an_environment_url_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ALPHA_DATABASE_URL", "postgresql://alpha_app@127.0.0.1/shop_alpha")
    database = _system().database("alpha", Settings(data_dir=tmp_path))
    assert database.url.database == "shop_alpha"


def test_unknown_services_and_systems_are_named() -> None:
    with pytest.raises(ConfigurationError, match=r"no service 'gamma'.*alpha, beta"):
        _system().service("gamma")
    with pytest.raises(ConfigurationError, match="no system named 'nope'"):
        get_system("nope")


def test_registered_systems_are_found_by_name() -> None:
    system = register(_system("registered_sys"))
    assert get_system("registered_sys") is system
    assert system.service("alpha").tables == ["things", "audit_log"]
