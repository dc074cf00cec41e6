"""`tidings demo --system shop` end to end: embedded, every order final, zero drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop.system import system
from tidings.settings import Settings


async def test_the_demo_runs_embedded_and_finds_no_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for service in system.services:
        monkeypatch.delenv(service.env_var, raising=False)
    monkeypatch.delenv("ANALYTICS_CLICKHOUSE_URL", raising=False)
    assert system.demo is not None
    await system.demo(system, Settings(data_dir=tmp_path, broker_url="memory://"))
    printed = capsys.readouterr().out
    assert "placed 9 orders" in printed
    assert "consistency check: 0 drift found" in printed
    assert "│ pending   │      0 │" in printed
    assert (tmp_path / "shop" / "orders.db").exists()
