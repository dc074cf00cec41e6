"""Settings read from the environment (pydantic-settings).

Per-service database URLs are read as ``<SERVICE>_DATABASE_URL`` by
:meth:`tidings.system.System.database_url`; everything shared lives here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIDINGS_", extra="ignore")

    data_dir: Path = Path(".tidings")
    """Where the embedded default keeps each service's SQLite file."""
    broker_url: str = "memory://"
    """``memory://``, ``amqp://user:pass@host/vhost`` or ``nats://host:4222``."""
    admin_postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    """A superuser connection that ``tidings db provision`` uses to create databases and roles."""
    admin_mariadb_url: str = "mysql://root@127.0.0.1:3306/mysql"
    env_file: Path = Path(".tidings/runtime.env")
    """Where ``tidings db provision`` writes the runtime URLs."""


def load_settings() -> Settings:
    return Settings()
