"""Data integrity across services: compare what services hold about each other.

A :class:`Check` reads several services' databases, each through that service's
own :class:`~tidings.storage.database.Database` (its own URL and credentials; no
service reads another's tables), and returns a :class:`Drift` per disagreement,
naming the ids involved. Three builders cover the usual cases::

    from sqlalchemy import select
    from tidings.consistency import references_exist, replica_matches, totals_match

    CHECKS = [
        # A replicated row against its owner: missing, extra, differing fields.
        replica_matches(
            owner=("users", select(users.c.id.label("user_id"), users.c.email)),
            replica=("orders", select(customers.c.user_id, customers.c.email)),
            key="user_id",
            fields=["email"],
        ),
        # An aggregate on one side against the same aggregate on the other.
        totals_match(
            expected=("orders", "SELECT COUNT(*) AS orders, SUM(total) AS revenue "
                                "FROM orders WHERE status = 'confirmed'"),
            actual=("analytics", "SELECT SUM(orders) AS orders, SUM(revenue) AS revenue "
                                 "FROM daily_sales"),
            fields=["orders", "revenue"],
        ),
        # Every id referenced on one side exists on the other.
        references_exist(
            referencing=("orders", select(orders.c.id, orders.c.reservation_id)),
            referenced=("inventory", select(reservations.c.id.label("reservation_id"))),
            key="reservation_id",
            id="id",
        ),
    ]

Anything else is a function: ``@check("name", services=[...])`` over
``async def f(databases) -> list[Drift]``. A query may also be an async function
``(database) -> rows`` for data no single query returns.

Convention: a system declares its checks in ``System.extras["consistency"]``, a
sequence of :class:`Check` or a callable with no arguments returning one;
:func:`check_consistency` runs them (or the ``checks`` it is given) and adds the
sync-delay percentiles per event type from every service whose
``library_tables`` include ``"inbox"``. ``tidings consistency check --system
NAME`` prints both and exits non-zero on drift.
"""

from tidings.consistency.base import Check, CheckFunction, FunctionCheck, check
from tidings.consistency.builders import references_exist, replica_matches, totals_match
from tidings.consistency.drift import Drift, DriftKind
from tidings.consistency.report import (
    EXTRAS_KEY,
    ConsistencyReport,
    DelayStats,
    check_consistency,
    collect_sync_delays,
    declared_checks,
    inbox_services,
)
from tidings.consistency.sources import Query, RowLoader, Source

__all__ = [
    "EXTRAS_KEY",
    "Check",
    "CheckFunction",
    "ConsistencyReport",
    "DelayStats",
    "Drift",
    "DriftKind",
    "FunctionCheck",
    "Query",
    "RowLoader",
    "Source",
    "check",
    "check_consistency",
    "collect_sync_delays",
    "declared_checks",
    "inbox_services",
    "references_exist",
    "replica_matches",
    "totals_match",
]
