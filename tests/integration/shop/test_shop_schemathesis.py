"""schemathesis against each shop service's published OpenAPI document.

Each service runs on a real HTTP server on its own backend (NUL characters and
BIGINT limits bite on PostgreSQL, not SQLite). schemathesis's own runner reads the
document and sends, for every operation, its coverage phase (the boundaries each
schema declares, just inside and just past: lengths, minimums and maximums, missing
and mistyped fields) and a fuzzing phase with a fixed budget. Generation is
deterministic, so every run sends the same requests. Each answer is checked: never
a 5xx, only statuses the document declares, bodies and content types as declared.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from shop_edge_rig import SERVICE_BACKENDS, builder, served

FUZZ_EXAMPLES = 5
"""Fuzzing cases per operation, on top of the coverage phase's boundaries: about
1,500 requests over the eight services in all."""

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def schemathesis_run(document_url: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """schemathesis's CLI against ``document_url``, from ``workdir`` (so no config
    file of ours or anyone's is picked up)."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        document_url,
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        str(FUZZ_EXAMPLES),
        "--generation-deterministic",
        "--no-color",
    ]
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=240, check=False
    )


def service_param(service: str) -> object:
    backend = SERVICE_BACKENDS[service]
    marks = [] if backend == "sqlite" else [getattr(pytest.mark, backend)]
    return pytest.param(service, id=f"{service}-{backend}", marks=marks)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("service", [service_param(name) for name in SERVICE_BACKENDS])
def test_every_answer_keeps_to_the_openapi_document(service: str, tmp_path: Path) -> None:
    with served(builder(service), tmp_path) as base_url:
        run = schemathesis_run(f"{base_url}/openapi.json", tmp_path)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    sent = re.search(r"(\d+) generated, (\d+) passed", report)
    assert sent is not None, report
    assert int(sent.group(1)) == int(sent.group(2)) >= 20, report
    # Every operation of the document was tried, none skipped.
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    tested = re.search(r"Tested: (\d+)", report)
    assert selected is not None, report
    assert tested is not None, report
    assert selected.group(1) == selected.group(2) == tested.group(1), report
