from __future__ import annotations

import random

import pytest

from tidings.inbox import NO_RETRY, RetryPolicy


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, initial_delay=0.1, multiplier=3, max_delay=2.0, jitter=0)
    assert policy.delays() == pytest.approx([0.1, 0.3, 0.9, 2.0, 2.0])


def test_jitter_spreads_within_its_fraction_and_never_past_the_cap() -> None:
    policy = RetryPolicy(initial_delay=1.0, multiplier=2, max_delay=3.0, jitter=0.2)
    rng = random.Random(7)
    first = [policy.delay(1, rng=rng) for _ in range(200)]
    assert all(0.8 <= value <= 1.2 for value in first)
    assert len(set(first)) > 100
    capped = [policy.delay(5, rng=rng) for _ in range(200)]
    assert all(2.4 <= value <= 3.0 for value in capped)


def test_no_retry_gives_one_attempt() -> None:
    assert NO_RETRY.max_attempts == 1
    assert NO_RETRY.delays() == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_attempts": 0},
        {"initial_delay": -1},
        {"multiplier": 0.5},
        {"jitter": 1.5},
    ],
)
def test_nonsense_policies_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**arguments)  # type: ignore[arg-type]


def test_the_public_surface_is_what_all_lists() -> None:
    import tidings.inbox as inbox

    public = {name for name in vars(inbox) if not name.startswith("_")}
    modules = {
        "cleanup",
        "consumer",
        "store",
        "metrics",
        "ordering",
        "records",
        "replaying",
        "retry",
    }
    assert public - modules - {"annotations", "tables", "ops"} == set(inbox.__all__)
    for name in inbox.__all__:
        assert getattr(inbox, name) is not None
