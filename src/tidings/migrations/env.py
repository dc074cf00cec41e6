# Alembic environment shared by every service: the runner hands over an open
# connection and the service's version table, so no service writes its own env.py.
from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    version_table=config.attributes["version_table"],
    # Each revision in its own transaction: a failing one rolls back to the revision
    # before it (on backends whose DDL is transactional).
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
