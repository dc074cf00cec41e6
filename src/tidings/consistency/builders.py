"""Ready-made checks: a replica against its owner, totals against totals, references.

Each reads every side through that side's own database and holds the rows in
memory while comparing, which suits an operator's check of up to some million
rows; narrow the queries (recent rows only) beyond that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from tidings.consistency.base import Check, FunctionCheck
from tidings.consistency.drift import Drift, DriftKind
from tidings.consistency.sources import (
    Key,
    Row,
    Source,
    columns,
    differing,
    fetch,
    field_values,
    key_of,
)
from tidings.errors import ConfigurationError
from tidings.storage.database import Database


def _indexed(rows: list[Row], key: tuple[str, ...], source: Source) -> dict[tuple[str, ...], Row]:
    indexed: dict[tuple[str, ...], Row] = {}
    for row in rows:
        found = key_of(row, key, source)
        if found in indexed:
            raise ConfigurationError(
                f"{source[0]}: key {found} appears twice; a check needs a unique key"
            )
        indexed[found] = row
    return indexed


def replica_matches(
    *,
    owner: Source,
    replica: Source,
    key: Key,
    fields: Sequence[str],
    name: str | None = None,
    description: str = "",
    report_missing: bool = True,
    report_extra: bool = True,
) -> Check:
    """Every owner row is in the replica with the same ``fields``, and nothing else is.

    Drifts: ``missing`` (owner row absent from the replica), ``extra`` (replica row
    whose owner row is gone), ``different`` (only the differing fields, owner's
    values as expected). Turn off ``report_missing`` for a replica that holds only
    some of the owner's rows (customers who ordered), ``report_extra`` for one that
    keeps rows its owner deleted.
    """
    key_columns = columns(key)
    compared = list(fields)
    services = (owner[0], replica[0])
    check_name = name or f"replica {replica[0]} of {owner[0]}"

    async def run(databases: Mapping[str, Database]) -> list[Drift]:
        owner_rows, replica_rows = await asyncio.gather(
            fetch(databases, owner), fetch(databases, replica)
        )
        expected = _indexed(owner_rows, key_columns, owner)
        actual = _indexed(replica_rows, key_columns, replica)
        drifts: list[Drift] = []
        for ids in sorted(expected.keys() | actual.keys()):
            if ids not in actual:
                if report_missing:
                    wanted = field_values(expected[ids], compared, owner)
                    drifts.append(Drift(check_name, DriftKind.MISSING, ids, wanted, None, services))
                continue
            if ids not in expected:
                if report_extra:
                    held = field_values(actual[ids], compared, replica)
                    drifts.append(Drift(check_name, DriftKind.EXTRA, ids, None, held, services))
                continue
            wanted = field_values(expected[ids], compared, owner)
            held = field_values(actual[ids], compared, replica)
            difference = _difference(check_name, ids, wanted, held, services)
            if difference is not None:
                drifts.append(difference)
        return drifts

    summary = f"{replica[0]} holds {owner[0]}'s rows with the same {', '.join(compared)}"
    return FunctionCheck(check_name, services, run, description or summary)


def _difference(
    check_name: str, ids: tuple[str, ...], wanted: Row, held: Row, services: tuple[str, str]
) -> Drift | None:
    """A ``different`` drift naming only the fields that differ, or None when none do."""
    changed = differing(wanted, held)
    if not changed:
        return None
    return Drift(
        check_name,
        DriftKind.DIFFERENT,
        ids,
        {field: wanted[field] for field in changed},
        {field: held[field] for field in changed},
        services,
    )


def totals_match(
    *,
    expected: Source,
    actual: Source,
    fields: Sequence[str],
    key: Key | None = None,
    name: str | None = None,
    description: str = "",
) -> Check:
    """Aggregates on ``actual``'s side equal those computed from ``expected``'s.

    Each query returns aggregate columns named ``fields`` (``COUNT(*) AS orders``,
    ``SUM(total) AS revenue``): one row when ``key`` is None, else one row per key
    (totals per product). A missing row or a NULL sum counts as zero, so a key
    present on one side only is a ``different`` drift, not a missing one.
    """
    key_columns = columns(key) if key is not None else ()
    compared = list(fields)
    services = (expected[0], actual[0])
    check_name = name or f"totals {actual[0]} against {expected[0]}"
    zeros: Row = dict.fromkeys(compared, 0)

    def totals(rows: list[Row], source: Source) -> dict[tuple[str, ...], Row]:
        if not key_columns and len(rows) > 1:
            raise ConfigurationError(f"{source[0]}: a total without a key must be one row")
        return {
            ids: {
                field: 0 if value is None else value
                for field, value in field_values(row, compared, source).items()
            }
            for ids, row in _indexed(rows, key_columns, source).items()
        }

    async def run(databases: Mapping[str, Database]) -> list[Drift]:
        expected_rows, actual_rows = await asyncio.gather(
            fetch(databases, expected), fetch(databases, actual)
        )
        wanted_totals = totals(expected_rows, expected)
        held_totals = totals(actual_rows, actual)
        drifts: list[Drift] = []
        for ids in sorted(wanted_totals.keys() | held_totals.keys()):
            wanted = wanted_totals.get(ids, zeros)
            held = held_totals.get(ids, zeros)
            difference = _difference(check_name, ids, wanted, held, services)
            if difference is not None:
                drifts.append(difference)
        return drifts

    summary = f"{actual[0]}'s {', '.join(compared)} equal {expected[0]}'s"
    return FunctionCheck(check_name, services, run, description or summary)


def references_exist(
    *,
    referencing: Source,
    referenced: Source,
    key: Key,
    referenced_key: Key | None = None,
    id: Key | None = None,
    name: str | None = None,
    description: str = "",
) -> Check:
    """Every reference ``referencing`` rows hold (columns ``key``) exists in ``referenced``.

    ``referenced_key`` names the referenced rows' columns when they differ from
    ``key``; ``id`` names the referencing row's own id, reported with the dangling
    key (``ids`` is ``(*id, *key)``). Rows whose reference is NULL refer to nothing
    and are skipped.
    """
    reference_columns = columns(key)
    target_columns = columns(referenced_key) if referenced_key is not None else reference_columns
    if len(target_columns) != len(reference_columns):
        raise ConfigurationError("key and referenced_key must name as many columns")
    id_columns = columns(id) if id is not None else ()
    services = (referenced[0], referencing[0])
    check_name = name or f"references {referencing[0]} to {referenced[0]}"

    async def run(databases: Mapping[str, Database]) -> list[Drift]:
        referencing_rows, referenced_rows = await asyncio.gather(
            fetch(databases, referencing), fetch(databases, referenced)
        )
        known = {key_of(row, target_columns, referenced) for row in referenced_rows}
        drifts: list[Drift] = []
        for row in referencing_rows:
            if any(row.get(column) is None for column in reference_columns):
                continue
            target = key_of(row, reference_columns, referencing)
            if target in known:
                continue
            wanted: dict[str, Any] = dict(zip(target_columns, target, strict=True))
            ids = key_of(row, id_columns, referencing) + target
            drifts.append(Drift(check_name, DriftKind.DANGLING, ids, wanted, None, services))
        return sorted(drifts, key=lambda drift: drift.ids)

    summary = f"every {referencing[0]} reference exists in {referenced[0]}"
    return FunctionCheck(check_name, services, run, description or summary)
