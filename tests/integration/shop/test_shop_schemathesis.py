"""schemathesis against each shop service's published OpenAPI document.

Each service runs on a real HTTP server on its own backend (NUL characters and
BIGINT limits bite on PostgreSQL, not SQLite). For every operation schemathesis
generates requests that follow the document and requests that break it, with a
fixed budget and derandomized generation so the run is the same every time, and
checks each answer: never a 5xx, only statuses the document declares, bodies and
content types as declared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from shop_edge_rig import SERVICE_BACKENDS, builder, served

EXAMPLES_PER_OPERATION = 10
"""Per operation and generation mode: about 800 requests over the eight services
(fewer where an operation has fewer distinct inputs)."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(base_url: str, *, examples: int) -> tuple[list[str], int, int]:
    """Run every operation of the document at ``base_url``; the failures found (one
    entry each), how many operations the document has and how many requests were sent."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    sent = [0]
    operations = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run = _cases(operation.as_strategy(generation_mode=mode), base_url, session, sent)
                try:
                    settings(
                        max_examples=examples,
                        derandomize=True,
                        database=None,
                        deadline=None,
                        phases=[Phase.explicit, Phase.generate],
                        suppress_health_check=list(HealthCheck),
                    )(run)()
                except Unsatisfiable:
                    pass  # nothing to break: an operation without parameters or body
                except Exception as error:  # a failed check: kept, the others still run
                    failures.append(f"{operation.label} [{mode.value}]: {error}")
    return failures, operations, sent[0]


def _cases(
    strategy: st.SearchStrategy[Case], base_url: str, session: requests.Session, sent: list[int]
) -> Callable[[], None]:
    @given(case=strategy)
    def one_case(case: Case) -> None:
        response = case.call(base_url=base_url, session=session, timeout=30)
        sent[0] += 1
        case.validate_response(response, checks=CHECKS)

    return one_case


def service_param(service: str) -> object:
    backend = SERVICE_BACKENDS[service]
    marks = [] if backend == "sqlite" else [getattr(pytest.mark, backend)]
    return pytest.param(service, id=f"{service}-{backend}", marks=marks)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("service", [service_param(name) for name in SERVICE_BACKENDS])
def test_every_answer_keeps_to_the_openapi_document(service: str, tmp_path: Path) -> None:
    with served(builder(service), tmp_path) as base_url:
        failures, operations, sent = fuzz(base_url, examples=EXAMPLES_PER_OPERATION)
    assert operations >= 3, "the document lists (almost) no operation"
    assert sent >= operations, "schemathesis left operations untried"
    assert failures == [], "\n\n".join(failures)
