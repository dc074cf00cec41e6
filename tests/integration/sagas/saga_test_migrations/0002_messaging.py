"""outbox, inbox and dead letters for the engine tests

Revision ID: saga_test_0002
Revises: saga_test_0001
"""

from tidings.inbox import ops as inbox_ops
from tidings.outbox.schema import create_outbox, drop_outbox

revision = "saga_test_0002"
down_revision = "saga_test_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox()
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()


def downgrade() -> None:
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    drop_outbox()
