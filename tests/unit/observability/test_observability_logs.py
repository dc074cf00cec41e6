"""Structured logs: one JSON object a line, with service, correlation and trace ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from tidings.observability import configure_logging, correlated, receiving

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Captures the root logger; restores its handlers and level afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    yield out
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_line_with_service(stream: io.StringIO) -> None:
    configure_logging("orders", stream=stream)

    logging.getLogger("shop.orders").info("placed %s", "o1", extra={"order_id": "o1"})

    [entry] = lines(stream)
    assert entry["message"] == "placed o1"
    assert (entry["service"], entry["level"], entry["logger"]) == ("orders", "INFO", "shop.orders")
    assert entry["order_id"] == "o1"
    assert "correlation_id" not in entry
    assert "trace_id" not in entry
    assert str(entry["time"]).endswith("+00:00")


def test_correlation_and_trace_ids_come_from_context(stream: io.StringIO) -> None:
    configure_logging("orders", stream=stream)
    log = logging.getLogger("shop.orders")

    with receiving({"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}), correlated("flow-7"):
        log.warning("inside")
    log.warning("outside")

    inside, outside = lines(stream)
    assert (inside["correlation_id"], inside["trace_id"]) == ("flow-7", TRACE_ID)
    assert "trace_id" not in outside


def test_exceptions_and_levels(stream: io.StringIO) -> None:
    configure_logging("orders", stream=stream, level="WARNING")
    log = logging.getLogger("shop.orders")

    log.info("dropped: below the level")
    try:
        raise KeyError("sku")
    except KeyError:
        log.exception("failed")

    [entry] = lines(stream)
    assert entry["level"] == "ERROR"
    assert "KeyError: 'sku'" in str(entry["exception"])


def test_configuring_again_replaces_the_handler(stream: io.StringIO) -> None:
    configure_logging("orders", stream=io.StringIO())
    configure_logging("payments", stream=stream)

    logging.getLogger("x").error("once")

    assert [entry["service"] for entry in lines(stream)] == ["payments"]


def test_text_mode_appends_ids_when_set(stream: io.StringIO) -> None:
    configure_logging("orders", json=False, stream=stream)

    with correlated("flow-1"):
        logging.getLogger("shop").error("boom")

    line = stream.getvalue().strip()
    assert " ERROR orders shop: boom [correlation_id=flow-1]" in line
