"""The library tables each hotel service's migrations include."""

from __future__ import annotations

from tidings.inbox import ops as inbox_ops
from tidings.migrations import ops
from tidings.outbox.schema import create_outbox, drop_outbox

MESSAGING_TABLES = ("audit_log", "outbox", "inbox", "dead_letters")


def create_messaging_tables() -> None:
    """Audit log, outbox, inbox and dead letters: every hotel service sends and receives."""
    ops.create_audit_log()
    create_outbox()
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()


def drop_messaging_tables() -> None:
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    drop_outbox()
    ops.drop_audit_log()
