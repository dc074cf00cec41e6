"""Alembic revision scripts of the blog service (run by tidings.migrations.runner)."""
