"""Alembic revision scripts of the auth service (run by tidings.migrations.runner)."""
