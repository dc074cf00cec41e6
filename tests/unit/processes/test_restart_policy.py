"""How soon the supervisor restarts a child, and what it shows of a crash loop."""

from __future__ import annotations

from pathlib import Path

from tidings.processes import RestartPolicy
from tidings.processes.supervisor import tail


def test_the_backoff_doubles_with_each_recent_exit_up_to_the_ceiling() -> None:
    policy = RestartPolicy(initial_delay=0.5, max_delay=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_the_default_policy_is_five_exits_in_a_minute() -> None:
    policy = RestartPolicy()
    assert (policy.crash_limit, policy.crash_window) == (5, 60.0)


def test_tail_shows_the_last_lines_of_a_log(tmp_path: Path) -> None:
    log = tmp_path / "orders.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    assert tail(log, 3) == ["line 97", "line 98", "line 99"]
    assert tail(tmp_path / "missing.log", 3) == []
