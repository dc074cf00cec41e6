"""Request ids, and unexpected errors contained as a 500 the connection survives.

Starlette's outermost middleware answers an unhandled exception with a 500 and then
re-raises it; the server, seeing an exception after the response, drops the
connection without ``Connection: close``, so a keep-alive client's next, unrelated
request fails too. :class:`ContainedErrors` sits inside it: it logs the exception
under the request's id, answers 500 with that id (never the error's text, which can
name a database URL or quote the driver) and returns normally, so the connection
stays usable.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("shop.http")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_of(request: Request) -> str | None:
    """The id :class:`ContainedErrors` gave ``request`` (None outside it)."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


class ContainedErrors:
    """ASGI middleware: gives each request an id (a client's ``X-Request-ID`` when it
    is a plain token, else a fresh one), echoes it in the response headers and turns
    any exception raised before the response started into a logged 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "request %s %s %s failed", request_id, scope.get("method"), scope.get("path")
            )
            if started:
                # Half a response is out: nothing sound can follow on this connection,
                # so let the server close it.
                raise
            await _answer_500(send_with_id, request_id)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


async def _answer_500(send: Send, request_id: str) -> None:
    body = json.dumps(
        {"detail": "internal error; the service logged it", "request_id": request_id}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
