"""Per-aggregate order with consumer processes SIGKILLed during delivery and two
processes competing on one queue: nothing lost, nothing applied twice, nothing
applied before its predecessor. A short run per broker; tests/chaos runs the long one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faults_rig import DIAGONAL, Rig, rig
from ordering_rig import run_with_kills


@pytest.fixture
async def the_rig(request: pytest.FixtureRequest, make_database: Any) -> AsyncIterator[Rig]:
    backend, kind = request.param
    async with rig(make_database, backend, kind) as made:
        yield made


@pytest.mark.timeout(300)
@pytest.mark.parametrize("the_rig", DIAGONAL, indirect=True)
async def test_killed_and_competing_consumer_processes_keep_aggregate_order(
    the_rig: Rig, tmp_path: Path
) -> None:
    # A short ack_wait, so JetStream hands a killed process's deliveries out again soon.
    options = {"ack_wait": 3.0} if the_rig.kind == "nats" else {}
    report = await run_with_kills(
        the_rig, events=400, aggregates=16, kills=3, broker_options=options, logs=tmp_path
    )
    assert report.kills == 3
