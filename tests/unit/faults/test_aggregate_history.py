"""The per-aggregate history check: lost, duplicated and out-of-order effects."""

from __future__ import annotations

import pytest

from tidings.testing.faults import AggregateHistory


def test_versions_applied_once_and_in_order_pass() -> None:
    history = AggregateHistory()
    for version in (1, 2, 3):
        history.expect("a", version)
        history.applied("a", version)
    history.expect("b", 1)
    history.applied("b", 1)
    report = history.check()
    assert report.ok
    assert report.describe() == "2 aggregates, every version applied once and in order"


def test_each_kind_of_fault_is_reported_per_aggregate() -> None:
    history = AggregateHistory()
    for version in (1, 2, 3, 4):
        history.expect("a", version)
        history.expect("b", version)
    history.applied_all([("a", 1), ("a", 3), ("a", 2), ("a", 4)])  # 2 after 3
    history.applied_all([("b", 1), ("b", 2), ("b", 2), ("b", 4)])  # 2 twice, 3 lost
    report = history.check()
    assert not report.ok
    assert set(report.findings) == {"a", "b"}
    assert report.findings["a"].out_of_order == ((2, 3),)
    assert report.findings["a"].lost == ()
    assert report.findings["b"].lost == (3,)
    assert dict(report.findings["b"].duplicated) == {2: 2}
    assert report.findings["b"].out_of_order == ()  # a duplicate is not an order fault
    assert (report.lost, report.duplicated, report.out_of_order) == (1, 1, 1)
    with pytest.raises(AssertionError, match=r"b: lost \[3\]; duplicated \{2: 2\}"):
        history.assert_ok()


def test_only_expected_versions_can_be_lost() -> None:
    history = AggregateHistory()
    history.applied("ghost", 1)
    report = history.check()
    assert report.ok  # only what was expected can be lost; ids are History's job
    assert report.aggregates == 1
