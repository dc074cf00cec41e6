"""An ASGI middleware that serves each HTTP request inside its trace context."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tidings.observability.context import receiving


class TraceContextMiddleware:
    """Continue the caller's ``traceparent`` (or start a trace) and take its
    ``x-correlation-id``, so the request's logs and the messages it writes carry them.

    A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``: the
    endpoint runs in this coroutine's context, so the context variables reach it.
    ``app.add_middleware(TraceContextMiddleware)``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        with receiving(headers):
            await self.app(scope, receive, send)
