"""The history checker itself: it must catch each way exactly-once can fail."""

from __future__ import annotations

import pytest

from tidings.testing.history import History, assert_in_order, order_violations


def test_a_clean_history_passes() -> None:
    history = History()
    history.committed(["a", "b"])
    history.assert_exactly_once({"a": 1, "b": 1})
    assert history.all_applied({"a": 1, "b": 1})


def test_lost_duplicated_and_phantom_effects_are_each_reported() -> None:
    history = History()
    history.committed(["a", "b", "c"])
    history.rolled_back(["z"])
    report = history.check({"a": 1, "b": 2, "z": 1})
    assert report.missing == {"c"}
    assert report.duplicated == {"b": 2}
    assert report.phantom == {"z"}
    assert not history.all_applied({"a": 1, "b": 2, "z": 1})
    with pytest.raises(AssertionError, match=r"never applied.*more than once.*never committed"):
        history.assert_exactly_once({"a": 1, "b": 2, "z": 1})


def test_in_memory_effects_count_when_no_database_counts_are_given() -> None:
    history = History()
    history.committed(["a"])
    history.applied("a")
    history.applied("a")
    assert history.check().duplicated == {"a": 2}


def test_effects_that_skipped_or_overtook_a_version_are_out_of_order() -> None:
    effects = [("a", 1, 0), ("a", 2, 1), ("a", 2, 2), ("b", 2, 0), ("b", 1, 2), ("c", 1, 0)]
    violations = order_violations(effects)
    assert [(v.aggregate, v.version, v.found) for v in violations] == [("b", 2, 0), ("b", 1, 2)]
    assert [v.describe() for v in violations] == ["b v2 applied before v1", "b v1 applied after v2"]
    with pytest.raises(AssertionError, match="2 effects applied out of order"):
        assert_in_order(effects)
    assert_in_order(effects[:3])
