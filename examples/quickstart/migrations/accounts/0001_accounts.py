"""accounts: its table, the audit log and the outbox."""

import sqlalchemy as sa
from alembic import op

from tidings.migrations import ops
from tidings.outbox.schema import create_outbox, drop_outbox

revision = "accounts_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_audit_log()
    create_outbox()
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(200), nullable=False, unique=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("accounts")
    drop_outbox()
    ops.drop_audit_log()
