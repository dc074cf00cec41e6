"""deploy/compose.yaml against the shop's declaration: a database each, both brokers."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from shop.system import system
from tidings.storage.capabilities import Backend

COMPOSE = Path(__file__).resolve().parents[3] / "deploy" / "compose.yaml"
IMAGE_OF = {Backend.POSTGRESQL: "postgres", Backend.MARIADB: "mariadb"}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_the_brokers_are_there(services: dict) -> None:
    assert services["rabbitmq"]["image"].startswith("rabbitmq:")
    assert services["nats"]["image"].startswith("nats:")
    assert "-js" in services["nats"]["command"]


@pytest.mark.parametrize("declared", system.services, ids=lambda s: s.name)
def test_every_service_has_its_own_database(services: dict, declared) -> None:
    app = services[declared.name]
    url = app["environment"][declared.env_var]
    if declared.backend is Backend.SQLITE:
        # A file on a volume that no other container mounts.
        assert url.startswith("sqlite:")
        [volume] = [mount.split(":")[0] for mount in app["volumes"]]
        others = [
            name
            for name, spec in services.items()
            if name != declared.name
            and any(m.startswith(f"{volume}:") for m in spec.get("volumes", []))
        ]
        assert others == []
        return
    host = urlsplit(url).hostname
    assert host == f"{declared.name}-db"
    database = services[host]
    assert database["image"].startswith(IMAGE_OF[declared.backend])
    assert host in app["depends_on"]
    # No other service's URL points at this database container.
    for name, spec in services.items():
        if name != declared.name:
            environment = spec.get("environment") or {}
            urls = [value for key, value in environment.items() if key.endswith("_DATABASE_URL")]
            assert all(urlsplit(other).hostname != host for other in urls), name


def test_distinct_credentials_per_database(services: dict) -> None:
    passwords = [
        urlsplit(services[s.name]["environment"][s.env_var]).password
        for s in system.services
        if s.backend is not Backend.SQLITE
    ]
    assert len(passwords) == len(set(passwords))
