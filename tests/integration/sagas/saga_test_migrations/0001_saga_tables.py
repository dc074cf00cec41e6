"""saga tables for the engine tests

Revision ID: saga_test_0001
Revises:
"""

from tidings.sagas import migrations as saga_ops

revision = "saga_test_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    saga_ops.create_saga_tables()


def downgrade() -> None:
    saga_ops.drop_saga_tables()
