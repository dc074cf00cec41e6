"""A recorded history of one messaging run, and the check that it was exactly-once in effect.

A fault test records, on the producing side, which event ids *committed* (and
which were written in a transaction that rolled back), and reads, on the
consuming side, how many times each id took effect. :meth:`History.check` then
reports every violation of the one guarantee the outbox, relay and inbox give
together: **every committed event id is applied exactly once downstream, and
nothing else is.** ::

    history = History()
    async with unit_of_work(db) as uow:
        envelope = await outbox.add(uow, registry, event, ...)
        history.commit_with(uow, envelope.id)   # recorded only if the commit succeeds
    ...
    applied = await applied_counts(consumer_db, effects.c.message_id)
    history.assert_exactly_once(applied)

Ids are recorded after the commit returned (:meth:`History.commit_with` uses the
unit of work's after-commit hook), so a transaction that fails at commit is not
counted as committed.

Order per aggregate is checked by :func:`order_violations`: each effect records the
aggregate version it found applied before it (see the function's docstring).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Column, func, select

from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


@dataclass(frozen=True)
class HistoryReport:
    """What went wrong, if anything; empty sets mean exactly-once held."""

    committed: int
    missing: frozenset[str] = frozenset()
    """Committed, never applied (lost)."""
    duplicated: Mapping[str, int] = field(default_factory=dict)
    """Applied more than once: id -> number of effects."""
    phantom: frozenset[str] = frozenset()
    """Applied but never committed (a rolled-back or invented message took effect)."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.phantom)

    def describe(self) -> str:
        if self.ok:
            return f"{self.committed} committed events, each applied exactly once"
        parts = [f"{self.committed} committed events"]
        if self.missing:
            parts.append(f"{len(self.missing)} never applied: {sorted(self.missing)[:5]}")
        if self.duplicated:
            sample = dict(sorted(self.duplicated.items())[:5])
            parts.append(f"{len(self.duplicated)} applied more than once: {sample}")
        if self.phantom:
            parts.append(
                f"{len(self.phantom)} applied but never committed: {sorted(self.phantom)[:5]}"
            )
        return "; ".join(parts)


class History:
    """Event ids committed and rolled back upstream; effects counted downstream."""

    def __init__(self) -> None:
        self._committed: dict[str, None] = {}
        self._rolled_back: set[str] = set()
        self._applied: Counter[str] = Counter()

    @property
    def committed_ids(self) -> list[str]:
        """In the order they were recorded as committed."""
        return list(self._committed)

    @property
    def rolled_back_ids(self) -> frozenset[str]:
        return frozenset(self._rolled_back)

    def committed(self, ids: Iterable[str]) -> None:
        """Record ids whose transaction has committed."""
        for message_id in ids:
            self._committed[message_id] = None

    def commit_with(self, uow: UnitOfWork, *ids: str) -> None:
        """Record ``ids`` as committed once (and only if) ``uow`` commits."""
        uow.after_commit(lambda: self.committed(ids))

    def rolled_back(self, ids: Iterable[str]) -> None:
        """Record ids written in a transaction that rolled back: they must never take effect."""
        self._rolled_back.update(ids)

    def applied(self, message_id: str) -> None:
        """Count one effect seen in memory (e.g. from an after-commit hook downstream)."""
        self._applied[message_id] += 1

    def check(self, applied: Mapping[str, int] | None = None) -> HistoryReport:
        """Compare with ``applied`` (id -> number of effects, e.g. from
        :func:`applied_counts`), or with the effects counted in memory."""
        counts: Mapping[str, int] = self._applied if applied is None else applied
        committed = set(self._committed)
        return HistoryReport(
            committed=len(committed),
            missing=frozenset(i for i in committed if counts.get(i, 0) < 1),
            duplicated={i: n for i, n in counts.items() if n > 1},
            phantom=frozenset(i for i, n in counts.items() if n > 0 and i not in committed),
        )

    def all_applied(self, applied: Mapping[str, int] | None = None) -> bool:
        """Whether every committed id has taken effect (a condition to wait on)."""
        counts: Mapping[str, int] = self._applied if applied is None else applied
        return all(counts.get(i, 0) >= 1 for i in self._committed)

    def assert_exactly_once(self, applied: Mapping[str, int] | None = None) -> None:
        """Raise AssertionError describing every violation, if there is one."""
        report = self.check(applied)
        if not report.ok:
            raise AssertionError(report.describe())


async def applied_counts(database: Database, message_id: Column[str]) -> dict[str, int]:
    """Effects per message id in the downstream database: one row per effect in
    ``message_id``'s table, grouped by that column (read in its own short transaction)."""
    async with database.transaction() as connection:
        rows = await connection.execute(select(message_id, func.count()).group_by(message_id))
        return {str(row[0]): int(row[1]) for row in rows}


@dataclass(frozen=True)
class OrderViolation:
    """An effect that did not find its aggregate's previous version applied before it."""

    aggregate: str
    version: int
    found: int
    """The aggregate's version the effect found applied when it took effect (0: none)."""

    def describe(self) -> str:
        if self.found > self.version:
            return f"{self.aggregate} v{self.version} applied after v{self.found}"
        return f"{self.aggregate} v{self.version} applied before v{self.version - 1}"


def order_violations(effects: Iterable[tuple[str, int, int]]) -> list[OrderViolation]:
    """The effects applied out of order per aggregate.

    Each effect is ``(aggregate, version, found)``: ``found`` is the version the
    consumer's handler read, in the effect's own transaction, from a row that every
    effect of the aggregate moves. For an aggregate whose versions go up by one (or
    repeat, several events of one commit), every effect must find ``version - 1`` or
    ``version``; anything else means an event took effect before its predecessor, or
    after a successor. Reading it inside the transaction makes the check exact across
    any number of consumer processes, with no clock involved.
    """
    return [
        OrderViolation(aggregate, version, found)
        for aggregate, version, found in effects
        if found not in (version - 1, version)
    ]


def assert_in_order(effects: Iterable[tuple[str, int, int]]) -> None:
    """Raise AssertionError naming the effects applied out of order, if any."""
    violations = order_violations(effects)
    if violations:
        sample = "; ".join(violation.describe() for violation in violations[:5])
        raise AssertionError(f"{len(violations)} effects applied out of order: {sample}")
