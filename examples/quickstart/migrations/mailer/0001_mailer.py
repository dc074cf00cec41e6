"""mailer: its table, the audit log, the inbox and the dead-letter store."""

import sqlalchemy as sa
from alembic import op

from tidings.inbox.ops import create_dead_letters, create_inbox, drop_dead_letters, drop_inbox
from tidings.migrations import ops

revision = "mailer_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_audit_log()
    create_inbox()
    create_dead_letters()
    op.create_table(
        "welcome_mails",
        sa.Column("account_id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("welcome_mails")
    drop_dead_letters()
    drop_inbox()
    ops.drop_audit_log()
