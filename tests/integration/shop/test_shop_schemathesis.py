"""schemathesis against each shop service's published OpenAPI document.

Each service runs on a real HTTP server on its own backend (NUL characters and
BIGINT limits bite on PostgreSQL, not SQLite). schemathesis's own runner reads the
document and sends, for every operation, its coverage phase (the boundaries each
schema declares, just inside and just past: lengths, minimums and maximums, missing
and mistyped fields) and a fuzzing phase with a fixed budget. Generation is
deterministic, so every run sends the same requests. Each answer is checked: never
a 5xx, only statuses the document declares, bodies and content types as declared.

Requests carry a bearer token of the role each route admits (:data:`CALLERS`), so
the guards let them through to the validation they are here to probe; a wrong
role would stop every request at a 403 before its input is read.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from shop_edge_rig import SERVICE_BACKENDS, bearer, builder, served

from shop.common.auth import AuthConfig, Role

FUZZ_EXAMPLES = 5
"""Fuzzing cases per operation, on top of the coverage phase's boundaries: about
1,500 requests over the eight services in all."""

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


ALL_PATHS: tuple[str, ...] = ()
CALLERS: dict[str, tuple[tuple[Role | None, tuple[str, ...]], ...]] = {
    "users": ((Role.STAFF, ALL_PATHS),),
    "catalog": ((Role.STAFF, ALL_PATHS),),
    # Staff count stock; only the service credential holds and releases reservations.
    "inventory": (
        (Role.STAFF, ("--exclude-path-regex", "^/reservations")),
        (Role.SERVICE, ("--include-path-regex", "^/reservations")),
    ),
    # Staff place orders for any customer and read the replicas; customers cannot.
    "orders": ((Role.STAFF, ALL_PATHS),),
    "payments": ((Role.SERVICE, ALL_PATHS),),
    "notifications": ((Role.SERVICE, ALL_PATHS),),
    "search": ((None, ALL_PATHS),),
    "analytics": ((Role.STAFF, ALL_PATHS),),
}
"""Per service: who the requests act as, and on which of its paths (schemathesis's
filter options); together the runs cover every operation once."""


TAKES_NO_INPUT = {"analytics"}


def schemathesis_run(
    document_url: str, workdir: Path, options: tuple[str, ...], har: Path
) -> subprocess.CompletedProcess[str]:
    """schemathesis's CLI against ``document_url`` with extra ``options``, from
    ``workdir`` (so no config file of ours or anyone's is picked up); every
    exchange lands in the HAR file ``har``."""
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
        "--report",
        "har",
        "--report-har-path",
        str(har),
        # The HAR keeps the credential, so its requests can be told from the rest.
        "--output-sanitize",
        "false",
        *options,
    ]
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=240, check=False
    )


LOGIN = "/auth/token"
"""Open to anyone; its own 401 means a wrong password, not a refused token."""


def answers_to(har: Path, header: str | None) -> dict[str, set[int]]:
    """The statuses answered to requests that carried ``header`` (ours) and to the
    rest (others: schemathesis's own probes without or with a broken credential);
    the login's answers are left out of both."""
    name, _, value = (header or "").partition(": ")
    found: dict[str, set[int]] = {"ours": set(), "others": set()}
    for entry in json.loads(har.read_text())["log"]["entries"]:
        if urlsplit(entry["request"]["url"]).path == LOGIN:
            continue
        sent = {item["name"].lower(): item["value"] for item in entry["request"]["headers"]}
        ours = header is not None and sent.get(name.lower()) == value
        found["ours" if ours else "others"].add(entry["response"]["status"])
    return found


def header_line(headers: dict[str, str]) -> str:
    ((name, value),) = headers.items()
    return f"{name}: {value}"


def service_param(service: str) -> object:
    backend = SERVICE_BACKENDS[service]
    marks = [] if backend == "sqlite" else [getattr(pytest.mark, backend)]
    return pytest.param(service, id=f"{service}-{backend}", marks=marks)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("service", [service_param(name) for name in SERVICE_BACKENDS])
def test_every_answer_keeps_to_the_openapi_document(service: str, tmp_path: Path) -> None:
    auth = AuthConfig.ephemeral()
    reports = []
    with served(builder(service, auth), tmp_path) as base_url:
        for role, paths in CALLERS[service]:
            token = () if role is None else ("--header", header_line(bearer(auth, role)))
            options = (*token, *paths)
            har = tmp_path / f"{role or 'anyone'}.har"
            run = schemathesis_run(f"{base_url}/openapi.json", tmp_path, options, har)
            reports.append((role, run.stdout + run.stderr))
            assert run.returncode == 0, f"as {role}:\n{run.stdout + run.stderr}"
            statuses = answers_to(har, token[1] if token else None)
            # The token let its requests through to the routes' own answers: success
            # and validation alike, never a refusal of the token or its role.
            answered = statuses["ours"] if token else statuses["others"]
            assert answered & {401, 403} == set(), (role, statuses)
            assert 200 in answered, (role, statuses)
            assert 422 in answered or service in TAKES_NO_INPUT, (role, statuses)
    selected_in_all = 0
    for _role, report in reports:
        sent = re.search(r"(\d+) generated, (\d+) passed", report)
        assert sent is not None, report
        assert int(sent.group(1)) == int(sent.group(2)) >= 20, report
        # Every operation the run selected was tried, none skipped.
        selected = re.search(r"Selected: (\d+)/(\d+)", report)
        tested = re.search(r"Tested: (\d+)", report)
        assert selected is not None, report
        assert tested is not None, report
        assert selected.group(1) == tested.group(1), report
        selected_in_all += int(selected.group(1))
        operations = int(selected.group(2))
    # Together the runs cover every operation of the document, each once.
    assert selected_in_all == operations, "\n".join(report for _, report in reports)
