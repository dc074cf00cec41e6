"""Structured logs: one JSON object per line, naming the service, flow and trace.

Standard :mod:`logging` only (no new dependency). Every record gets ``service``,
and ``correlation_id`` and ``trace_id`` when the work in hand has them (see
:mod:`tidings.observability.context`); ``extra={...}`` fields are kept as keys.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from tidings.observability.context import current_correlation_id, current_trace_id

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_CONTEXT = ("service", "correlation_id", "trace_id")
_INSTALLED = "_tidings_configured"


class ContextFilter(logging.Filter):
    """Stamps each record with the service and the current correlation and trace ids."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = current_correlation_id()
        record.trace_id = current_trace_id()
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "service", ...}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in _CONTEXT and not name.startswith("_"):
                entry.setdefault(name, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return jsonlib.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A human line, with the flow and trace ids appended when set."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(service)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.__dict__.setdefault("service", "-")  # a record that bypassed ContextFilter
        line = super().format(record)
        ids = [
            f"{name}={value}"
            for name in ("correlation_id", "trace_id")
            if (value := getattr(record, name, None)) is not None
        ]
        return f"{line} [{' '.join(ids)}]" if ids else line


def configure_logging(
    service: str,
    *,
    json: bool = True,
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record of the process to ``stream`` (stderr), one line each.

    Replaces the handler an earlier call installed, so calling it again (a test,
    a reload) never doubles lines; other handlers on the root logger stay.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _INSTALLED, False):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    # On the handler, not the logger: a logger's filters skip records from its children.
    handler.addFilter(ContextFilter(service))
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    setattr(handler, _INSTALLED, True)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
