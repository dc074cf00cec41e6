"""The provisioning env file: merged, private, unchanged when nothing changed."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from unittest import mock

from tidings.provisioning.envfile import load_env_file, read_env_file, write_env_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "runtime.env"
    assert write_env_file(path, {"AUTH_DATABASE_URL": "postgresql://a:pw@h/db"})
    assert mode(path) == 0o600
    assert read_env_file(path) == {"AUTH_DATABASE_URL": "postgresql://a:pw@h/db"}


def test_updates_merge_and_keep_lines_they_do_not_manage(tmp_path: Path) -> None:
    path = tmp_path / "runtime.env"
    path.write_text("# mine\nOTHER=1\nAUTH_DATABASE_URL=old\n")
    path.chmod(0o644)
    assert write_env_file(path, {"AUTH_DATABASE_URL": "new", "NOTES_DATABASE_URL": "n"})
    assert path.read_text() == "# mine\nOTHER=1\nAUTH_DATABASE_URL=new\nNOTES_DATABASE_URL=n\n"
    assert mode(path) == 0o600


def test_writing_the_same_values_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runtime.env"
    write_env_file(path, {"A": "1"})
    before = path.stat().st_mtime_ns
    assert not write_env_file(path, {"A": "1"})
    assert path.stat().st_mtime_ns == before


def test_loading_overrides_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "runtime.env"
    path.write_text("TIDINGS_TEST_A='from file'\nTIDINGS_TEST_B=b\n")
    with mock.patch.dict(os.environ, {"TIDINGS_TEST_A": "from env"}):
        load_env_file(path, override=False)
        assert os.environ["TIDINGS_TEST_A"] == "from env"
        assert os.environ["TIDINGS_TEST_B"] == "b"
        load_env_file(path)
        assert os.environ["TIDINGS_TEST_A"] == "from file"


def test_a_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / "absent.env") == {}
