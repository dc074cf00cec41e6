"""``tidings.testing.faults`` is public: every name it lists is there, and nothing
a fault test needs is missing from the list."""

from __future__ import annotations

import tidings.testing.faults as faults


def test_every_listed_name_exists_and_is_listed_once() -> None:
    assert len(set(faults.__all__)) == len(faults.__all__)
    missing = [name for name in faults.__all__ if not hasattr(faults, name)]
    assert missing == []


def test_the_harness_covers_each_kind_of_fault() -> None:
    needed = {
        "kill_service",  # a process dies
        "wait_restarted",
        "BrokerProxy",  # the broker goes away
        "hold_transaction",  # a transaction stays open
        "FaultyBroker",  # deliveries duplicated, delayed, reordered, late
        "AggregateHistory",  # lost, duplicated, out of order per aggregate
    }
    assert needed <= set(faults.__all__)
