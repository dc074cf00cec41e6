"""The reconciler on SQLite: agreeing services show no drift; each kind of drift is
reported with the ids involved; sync delays are aggregated across inboxes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from consistency_testkit import (
    DELAYS,
    METADATA,
    add_customer,
    build_system,
    change_sales,
    checks,
    create_tables,
    drop_customer,
    drop_reservation,
    rename_customer,
    sales,
    seed,
)
from sqlalchemy import select

from tidings.consistency import (
    Check,
    ConsistencyReport,
    Drift,
    DriftKind,
    check,
    check_consistency,
    declared_checks,
    replica_matches,
    totals_match,
)
from tidings.errors import ConfigurationError
from tidings.storage.database import Database
from tidings.system import System


@pytest.fixture
async def databases(make_database) -> dict[str, Database]:  # type: ignore[no-untyped-def]
    found = {service: await make_database("sqlite", service=service) for service in METADATA}
    await create_tables(found)
    await seed(found)
    return found


@pytest.fixture
def system() -> System:
    return build_system()


def by_check(report: ConsistencyReport, name: str) -> list[Drift]:
    return [drift for drift in report.drifts if drift.check == name]


async def test_agreeing_services_show_no_drift(
    system: System, databases: Mapping[str, Database]
) -> None:
    report = await check_consistency(system, databases)

    assert report.drifts == ()
    assert report.failures == {}
    assert report.ok
    assert report.checks == ("customer-replica", "sales-totals", "order-reservation")


async def test_sync_delays_are_merged_across_every_inbox(
    system: System, databases: Mapping[str, Database]
) -> None:
    report = await check_consistency(system, databases)

    registered = report.sync_delays["users.UserRegistered"]
    assert (registered.count, registered.p50, registered.max) == (2, 0.01, 0.03)
    # Consumed by analytics (50, 70 ms) and by orders (200 ms): one distribution.
    confirmed = report.sync_delays["orders.OrderConfirmed"]
    assert confirmed.count == sum(1 for _, kind, _ in DELAYS if kind == "orders.OrderConfirmed")
    assert (confirmed.p50, confirmed.p99, confirmed.max) == (0.07, 0.2, 0.2)


async def test_a_missing_replica_row_is_reported_with_its_id(
    system: System, databases: Mapping[str, Database]
) -> None:
    await drop_customer(databases, "u2")

    report = await check_consistency(system, databases)

    assert report.drifts == (
        Drift(
            "customer-replica",
            DriftKind.MISSING,
            ("u2",),
            {"email": "bob@example.com", "name": "Bob"},
            None,
            ("users", "orders"),
        ),
    )
    assert not report.ok


async def test_a_differing_field_reports_only_that_field(
    system: System, databases: Mapping[str, Database]
) -> None:
    await rename_customer(databases, "u1", "old@example.com")

    [drift] = (await check_consistency(system, databases)).drifts

    assert (drift.kind, drift.ids) == (DriftKind.DIFFERENT, ("u1",))
    assert drift.expected == {"email": "ada@example.com"}
    assert drift.actual == {"email": "old@example.com"}


async def test_a_replica_row_without_owner_is_extra(
    system: System, databases: Mapping[str, Database]
) -> None:
    await add_customer(databases, "u9")

    [drift] = (await check_consistency(system, databases)).drifts

    assert (drift.kind, drift.ids, drift.expected) == (DriftKind.EXTRA, ("u9",), None)
    assert drift.actual == {"email": "u9@example.com", "name": "?"}


async def test_a_totals_mismatch_names_the_differing_totals(
    system: System, databases: Mapping[str, Database]
) -> None:
    await change_sales(databases, "2026-01-02", 650)

    report = await check_consistency(system, databases)

    [drift] = by_check(report, "sales-totals")
    assert (drift.kind, drift.ids) == (DriftKind.DIFFERENT, ())
    assert drift.expected == {"revenue": 1950}
    assert drift.actual == {"revenue": 1900}
    assert drift.services == ("orders", "analytics")
    assert len(report.drifts) == 1


async def test_a_dangling_reference_names_the_row_and_the_missing_id(
    system: System, databases: Mapping[str, Database]
) -> None:
    await drop_reservation(databases, "r2")

    [drift] = (await check_consistency(system, databases)).drifts

    assert drift.check == "order-reservation"
    assert (drift.kind, drift.ids) == (DriftKind.DANGLING, ("o2", "r2"))
    assert drift.expected == {"id": "r2"}
    assert drift.services == ("inventory", "orders")


async def test_several_drifts_are_all_reported(
    system: System, databases: Mapping[str, Database]
) -> None:
    await drop_customer(databases, "u1")
    await rename_customer(databases, "u2", "bobby@example.com")
    await drop_reservation(databases, "r1")
    await drop_reservation(databases, "r2")

    report = await check_consistency(system, databases)

    found = {(drift.check, drift.kind, drift.ids) for drift in report.drifts}
    assert found == {
        ("customer-replica", DriftKind.MISSING, ("u1",)),
        ("customer-replica", DriftKind.DIFFERENT, ("u2",)),
        ("order-reservation", DriftKind.DANGLING, ("o1", "r1")),
        ("order-reservation", DriftKind.DANGLING, ("o2", "r2")),
    }


async def test_totals_per_key_count_an_absent_key_as_zero(
    databases: Mapping[str, Database],
) -> None:
    per_day = totals_match(
        expected=("analytics", select(sales.c.day, sales.c.revenue_cents)),
        actual=("analytics", "SELECT day, revenue_cents FROM sales WHERE day < '2026-01-02'"),
        key="day",
        fields=["revenue_cents"],
    )

    [drift] = await per_day.run(databases)

    assert drift.ids == ("2026-01-02",)
    assert (drift.expected, drift.actual) == ({"revenue_cents": 700}, {"revenue_cents": 0})


async def test_replica_subset_can_skip_missing_rows(databases: Mapping[str, Database]) -> None:
    await drop_customer(databases, "u2")
    partial = replica_matches(
        owner=("users", "SELECT id AS user_id, email FROM users"),
        replica=("orders", "SELECT user_id, email FROM customers"),
        key="user_id",
        fields=["email"],
        report_missing=False,
    )

    assert await partial.run(databases) == []
    assert partial.services == ("users", "orders")


async def test_a_query_can_be_a_function_of_the_database(
    databases: Mapping[str, Database],
) -> None:
    async def held(_database: Database) -> Sequence[dict[str, object]]:
        return [{"user_id": "u1", "email": "ada@example.com"}]

    replica = replica_matches(
        owner=("users", "SELECT id AS user_id, email FROM users"),
        replica=("orders", held),
        key="user_id",
        fields=["email"],
    )

    [drift] = await replica.run(databases)
    assert (drift.kind, drift.ids) == (DriftKind.MISSING, ("u2",))


async def test_a_check_that_cannot_run_is_a_failure_not_silence(
    system: System, databases: Mapping[str, Database]
) -> None:
    unlabelled = replica_matches(
        name="unlabelled",
        owner=("users", "SELECT id, email FROM users"),
        replica=("orders", "SELECT user_id, email FROM customers"),
        key="user_id",
        fields=["email"],
    )
    without_inventory = {k: v for k, v in databases.items() if k != "inventory"}

    report = await check_consistency(
        system, without_inventory, checks=[unlabelled, *checks()], delays=False
    )

    assert "no column 'user_id'" in report.failures["unlabelled"]
    assert report.failures["order-reservation"] == "no database for inventory"
    assert report.sync_delays == {}
    assert not report.ok
    assert report.drifts == ()


async def test_a_function_becomes_a_check(databases: Mapping[str, Database]) -> None:
    @check("always", services=["users"])
    async def always(given: Mapping[str, Database]) -> list[Drift]:
        """Reports one drift whatever the data."""
        assert given["users"] is databases["users"]
        return [Drift("always", DriftKind.MISSING, ("x",), 1, None, ("users",))]

    system = System("fn", ())
    report = await check_consistency(system, databases, checks=[always])

    assert isinstance(always, Check)
    assert always.description == "Reports one drift whatever the data."
    assert [drift.ids for drift in report.drifts] == [("x",)]


def test_declared_checks_accepts_a_sequence_or_a_callable() -> None:
    listed = checks()
    assert declared_checks(System("a", (), extras={"consistency": listed})) == listed
    assert [c.name for c in declared_checks(System("b", (), extras={"consistency": checks}))] == [
        "customer-replica",
        "sales-totals",
        "order-reservation",
    ]
    assert declared_checks(System("c", ())) == []
    with pytest.raises(ConfigurationError, match="extras\\['consistency'\\]"):
        declared_checks(System("d", (), extras={"consistency": ["not a check"]}))


def test_drift_serialises_decimals_and_ids() -> None:
    from decimal import Decimal

    drift = Drift("c", DriftKind.DIFFERENT, ("1",), {"a": Decimal("12.50")}, {"a": Decimal(3)}, ())

    assert drift.to_dict() == {
        "check": "c",
        "kind": "different",
        "ids": ["1"],
        "expected": {"a": 12.5},
        "actual": {"a": 3},
        "services": [],
    }


def test_public_names_are_exported() -> None:
    import tidings.consistency as package

    assert len(set(package.__all__)) == len(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
    assert callable(package.check)
