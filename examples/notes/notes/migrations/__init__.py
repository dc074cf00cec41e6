"""Alembic revision scripts of the notes service (run by tidings.migrations.runner)."""
