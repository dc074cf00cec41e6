"""The env file provisioning writes: ``<SERVICE>_DATABASE_URL=...`` lines, owner-only.

It holds passwords, so it is created with mode 0600 and replaced atomically;
lines it does not manage (other systems' services, comments) are kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """The ``KEY=value`` pairs in ``path`` (empty when it does not exist)."""
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def write_env_file(path: Path, updates: Mapping[str, str]) -> bool:
    """Merge ``updates`` into ``path``; True if the file's content changed.

    The file is readable only by its owner whether or not anything changed.
    """
    existing = path.read_text() if path.exists() else ""
    lines = existing.splitlines()
    pending = dict(updates)
    merged: list[str] = []
    for line in lines:
        key = line.split("=", 1)[0].strip() if "=" in line else None
        if key is not None and key in pending:
            merged.append(f"{key}={pending.pop(key)}")
        else:
            merged.append(line)
    merged.extend(f"{key}={value}" for key, value in pending.items())
    content = "\n".join(merged) + "\n"
    if content == existing:
        path.chmod(0o600)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    # Created 0600 from the start: the passwords are never readable by others, even briefly.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return True


def load_env_file(path: Path, *, override: bool = True) -> dict[str, str]:
    """Put the file's variables into ``os.environ``; return them."""
    values = read_env_file(path)
    for key, value in values.items():
        if override or key not in os.environ:
            os.environ[key] = value
    return values
