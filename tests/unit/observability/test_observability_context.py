"""Trace context and correlation id from an incoming message or request."""

from __future__ import annotations

import dataclasses

import httpx
from fastapi import FastAPI

from tidings.messages import Event, MessageRegistry
from tidings.messages.envelope import Envelope
from tidings.messages.tracing import parse_traceparent
from tidings.observability import (
    TraceContextMiddleware,
    current_correlation_id,
    current_trace_id,
    handling,
    receiving,
    traced,
)

registry = MessageRegistry()

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@registry.register("test.Pinged")
class Pinged(Event):
    n: int


def incoming(traceparent: str | None = TRACEPARENT) -> Envelope:
    envelope = registry.envelope_for(Pinged(n=1), source="test", correlation_id="flow-1")
    return dataclasses.replace(envelope, traceparent=traceparent, tracestate=None)


def test_handling_puts_the_envelopes_ids_in_context_and_removes_them_after() -> None:
    assert current_trace_id() is None
    with handling(incoming()) as context:
        assert context.trace_id == TRACE_ID
        assert current_trace_id() == TRACE_ID
        assert current_correlation_id() == "flow-1"
    assert current_trace_id() is None
    assert current_correlation_id() is None


def test_messages_written_while_handling_continue_the_trace() -> None:
    with handling(incoming()):
        outgoing = registry.envelope_for(Pinged(n=2), source="test")

    parsed = parse_traceparent(outgoing.traceparent)
    assert parsed is not None
    trace_id, parent_id, _flags = parsed
    assert trace_id == TRACE_ID
    assert parent_id != "00f067aa0ba902b7"  # a new hop, not a copy of the incoming one


def test_a_message_without_valid_trace_context_starts_a_fresh_trace() -> None:
    seen = set()
    for traceparent in (None, "garbage", f"00-{'0' * 32}-00f067aa0ba902b7-01"):
        with handling(incoming(traceparent)) as context:
            assert current_trace_id() == context.trace_id
            assert context.trace_id != "0" * 32
            seen.add(context.trace_id)
    assert len(seen) == 3


def test_receiving_takes_traceparent_and_correlation_header_case_insensitively() -> None:
    with receiving({"TraceParent": TRACEPARENT, "X-Correlation-Id": "req-9"}):
        assert (current_trace_id(), current_correlation_id()) == (TRACE_ID, "req-9")
    with receiving({}) as fresh:
        assert current_trace_id() == fresh.trace_id
        assert current_correlation_id() is None


async def test_middleware_serves_each_request_in_its_callers_trace() -> None:
    app = FastAPI()
    app.add_middleware(TraceContextMiddleware)

    @app.get("/ids")
    async def ids() -> dict[str, str | None]:
        return {"trace": current_trace_id(), "correlation": current_correlation_id()}

    @app.get("/message")
    async def written() -> dict[str, str | None]:
        envelope = registry.envelope_for(Pinged(n=3), source="test")
        return {"id": envelope.id, "correlation": envelope.correlationid}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        continued = (
            await client.get("/ids", headers={"traceparent": TRACEPARENT, "x-correlation-id": "c"})
        ).json()
        started = (await client.get("/ids")).json()
        in_flow = (await client.get("/message", headers={"x-correlation-id": "c"})).json()
        own_flow = (await client.get("/message")).json()

    assert continued == {"trace": TRACE_ID, "correlation": "c"}
    # A message written while serving joins the caller's flow, or starts its own.
    assert in_flow["correlation"] == "c"
    assert own_flow["correlation"] == own_flow["id"]
    assert started["trace"] not in (None, TRACE_ID)
    assert current_trace_id() is None


async def test_traced_runs_a_consumer_handler_inside_the_envelopes_context() -> None:
    seen: list[tuple[str | None, str | None, int]] = []

    @traced
    async def handler(uow: object, event: Pinged, envelope: Envelope) -> str:
        seen.append((current_trace_id(), current_correlation_id(), event.n))
        return "done"

    assert await handler(None, Pinged(n=5), incoming()) == "done"
    assert seen == [(TRACE_ID, "flow-1", 5)]
    assert handler.__name__ == "handler"
    assert current_trace_id() is None


def test_public_names_are_exported() -> None:
    import tidings.observability as package

    assert len(set(package.__all__)) == len(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
