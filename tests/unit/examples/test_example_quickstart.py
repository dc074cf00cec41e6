from __future__ import annotations

from pathlib import Path

import pytest

from examples.quickstart.app import main


async def test_the_quickstart_sends_one_welcome_mail_per_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await main(tmp_path) == 2
    assert "2 welcome mails sent" in capsys.readouterr().out
