"""Per-aggregate order, the long run (issue 10): 3,000 events on 40 aggregates, two
consumer processes of one service competing on one queue or stream, one of them
SIGKILLed at a random point six times, on RabbitMQ and on NATS JetStream (with
JetStream's default ack_wait, as a user runs it). Nothing lost, nothing applied
twice, nothing applied before its predecessor.

Several minutes per run on a two-core machine: it runs under ``make chaos``, not
``make test``; tests/integration/faults/test_faults_ordering.py is the short run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# The fault rig lives with the integration fault tests; this run reuses it.
sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "faults"))

from faults_rig import COMBINATIONS, Rig, rig
from ordering_rig import run_with_kills

pytestmark = pytest.mark.chaos

EVENTS = 3000
AGGREGATES = 40
KILLS = 6
PREFETCH = 256


@pytest.fixture
async def the_rig(request: pytest.FixtureRequest, make_database: Any) -> AsyncIterator[Rig]:
    backend, kind = request.param
    async with rig(make_database, backend, kind) as made:
        yield made


# PostgreSQL with each broker by default (the broker decides redelivery order); the
# MariaDB pairs too with TIDINGS_CHAOS_ORDERING_ALL=1. tests/integration/faults runs a
# shorter version of this on MariaDB with NATS in every `make test`.
CHOSEN = (
    COMBINATIONS
    if os.environ.get("TIDINGS_CHAOS_ORDERING_ALL")
    else [c for c in COMBINATIONS if "postgres" in str(c.id)]
)


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("the_rig", CHOSEN, indirect=True)
async def test_3000_events_6_kills_2_competing_consumers_keep_aggregate_order(
    the_rig: Rig, tmp_path: Path
) -> None:
    report = await run_with_kills(
        the_rig,
        events=EVENTS,
        aggregates=AGGREGATES,
        kills=KILLS,
        consumers=2,
        # Room to park what a kill scrambles: up to half the prefetch waits unsettled
        # for its predecessor instead of going round the queue again.
        prefetch=PREFETCH,
        timeout=600.0,
        logs=tmp_path,
    )
    assert report.kills == KILLS
    print(f"\n{the_rig.kind}: {report.events} events, {report.kills} kills, {report.seconds:.0f} s")
