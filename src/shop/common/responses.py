"""The bodies of the shop's refusals and their declarations in the OpenAPI documents.

Every route of every service can answer 500 (an unexpected error, with the request
id to quote) and 503 (its database or broker does not answer); those are declared
once, for the whole app. A route declares the others it can answer with
:func:`declared`: ``responses=declared(404, 409)``. 422 is FastAPI's own, declared
wherever a route takes input.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """What a refusal answers: why, and the id under which the service logged it."""

    detail: str = Field(description="What went wrong, for a person to read")
    request_id: str | None = Field(
        default=None, description="Quote it to the operator: the service's log has the rest"
    )


class ConflictBody(ErrorBody):
    """A 409: the request contradicts the current state (a stale version, a duplicate)."""

    expected_version: int | None = Field(default=None, description="The version sent")
    actual_version: int | None = Field(default=None, description="The version stored")


_DESCRIPTIONS: dict[int, tuple[str, type[BaseModel]]] = {
    401: ("No valid credentials", ErrorBody),
    403: ("The credentials do not allow this", ErrorBody),
    404: ("No such resource", ErrorBody),
    409: ("Conflicts with the current state: a stale version or a duplicate", ConflictBody),
    500: ("An unexpected error; the body carries the request id the log has it under", ErrorBody),
    503: ("A dependency (database, broker) does not answer; try again later", ErrorBody),
}

Responses = dict[int | str, dict[str, Any]]


def declared(*statuses: int | tuple[int, str]) -> Responses:
    """OpenAPI declarations for ``statuses``, each with its body's schema; a
    ``(status, description)`` pair says what that status means on this route."""
    responses: Responses = {}
    for status in statuses:
        code, description = status if isinstance(status, tuple) else (status, None)
        default_description, model = _DESCRIPTIONS[code]
        responses[code] = {"model": model, "description": description or default_description}
    return responses


EVERY_ROUTE: Responses = declared(500, 503)
"""What any route can answer, whatever it does."""
