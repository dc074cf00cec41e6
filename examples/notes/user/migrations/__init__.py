"""Alembic revision scripts of the user service (run by tidings.migrations.runner)."""
