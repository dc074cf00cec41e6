from __future__ import annotations

import subprocess
import sys

import tidings


def test_every_public_name_resolves_to_the_object_of_its_package() -> None:
    for name in tidings.__all__:
        value = getattr(tidings, name)
        assert value is not None, name
        assert name in dir(tidings)


def test_importing_tidings_loads_no_driver_broker_or_web_framework() -> None:
    probe = (
        "import sys, tidings; "
        "heavy = ('asyncpg', 'asyncmy', 'aio_pika', 'nats', 'fastapi', 'chdb', 'sqlalchemy'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
