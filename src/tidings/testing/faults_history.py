"""Per aggregate: which versions were produced, and in what order each took effect.

:class:`~tidings.testing.history.History` checks exactly-once by message id;
:class:`AggregateHistory` adds the order the outbox and the inbox promise per
aggregate. Record what was produced (``expect``) and what took effect, in the order
it did (``applied``), then :meth:`AggregateHistory.check` reports per aggregate the
versions **lost** (produced, never applied), **duplicated** (applied more than
once) and **out of order** (applied after a later version of the same aggregate). ::

    history = AggregateHistory()
    history.expect("order-1", 1); history.expect("order-1", 2)
    history.applied("order-1", 2); history.applied("order-1", 1)
    history.check().describe()   # 'order-1: out of order [1 after 2]'
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AggregateFindings:
    lost: tuple[int, ...] = ()
    duplicated: Mapping[int, int] = field(default_factory=dict)
    """version -> times applied (more than once)."""
    out_of_order: tuple[tuple[int, int], ...] = ()
    """(version, the higher version applied before it)."""

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.out_of_order)

    def describe(self) -> str:
        parts = []
        if self.lost:
            parts.append(f"lost {list(self.lost)}")
        if self.duplicated:
            parts.append(f"duplicated {dict(self.duplicated)}")
        if self.out_of_order:
            pairs = ", ".join(f"{late} after {early}" for late, early in self.out_of_order)
            parts.append(f"out of order [{pairs}]")
        return "; ".join(parts) or "ok"


@dataclass(frozen=True)
class AggregateReport:
    aggregates: int
    findings: Mapping[str, AggregateFindings]
    """Only the aggregates with something wrong."""

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def lost(self) -> int:
        return sum(len(f.lost) for f in self.findings.values())

    @property
    def duplicated(self) -> int:
        return sum(len(f.duplicated) for f in self.findings.values())

    @property
    def out_of_order(self) -> int:
        return sum(len(f.out_of_order) for f in self.findings.values())

    def describe(self, limit: int = 10) -> str:
        if self.ok:
            return f"{self.aggregates} aggregates, every version applied once and in order"
        head = (
            f"{len(self.findings)} of {self.aggregates} aggregates wrong "
            f"({self.lost} lost, {self.duplicated} duplicated, {self.out_of_order} out of order)"
        )
        lines = [f"{name}: {f.describe()}" for name, f in sorted(self.findings.items())[:limit]]
        return "; ".join([head, *lines])


class AggregateHistory:
    """Versions produced per aggregate, and versions applied in the order applied."""

    def __init__(self) -> None:
        self._expected: dict[str, set[int]] = defaultdict(set)
        self._applied: dict[str, list[int]] = defaultdict(list)

    def expect(self, aggregate: str, version: int) -> None:
        """``version`` of ``aggregate`` was committed upstream: it must take effect once."""
        self._expected[aggregate].add(version)

    def applied(self, aggregate: str, version: int) -> None:
        """``version`` of ``aggregate`` took effect now (call in the order effects happen,
        e.g. from an after-commit hook, or replay rows ordered by when they were applied)."""
        self._applied[aggregate].append(version)

    def applied_all(self, effects: Iterable[tuple[str, int]]) -> None:
        for aggregate, version in effects:
            self.applied(aggregate, version)

    def check(self) -> AggregateReport:
        findings: dict[str, AggregateFindings] = {}
        names = set(self._expected) | set(self._applied)
        for name in names:
            found = _examine(self._expected.get(name, set()), self._applied.get(name, []))
            if not found.ok:
                findings[name] = found
        return AggregateReport(aggregates=len(names), findings=findings)

    def assert_ok(self) -> None:
        report = self.check()
        if not report.ok:
            raise AssertionError(report.describe())


def _examine(expected: set[int], applied: list[int]) -> AggregateFindings:
    counts = Counter(applied)
    inversions = []
    highest: int | None = None
    seen: set[int] = set()
    for version in applied:
        if version in seen:
            continue  # a duplicate is reported as one; its position is not an order fault
        seen.add(version)
        if highest is not None and version < highest:
            inversions.append((version, highest))
        highest = version if highest is None else max(highest, version)
    return AggregateFindings(
        lost=tuple(sorted(expected - set(counts))),
        duplicated={v: n for v, n in sorted(counts.items()) if n > 1},
        out_of_order=tuple(inversions),
    )
