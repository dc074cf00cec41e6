"""Typed messages: events (what happened) and commands (what to do next)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    """The base of every event and command: an immutable Pydantic model.

    Unknown fields are ignored on load, so a consumer on an older model still
    reads messages from a producer that added an optional field.
    """

    model_config = ConfigDict(frozen=True)


class Event(Message):
    """Something that happened, named in the past tense (``OrderPlaced``).

    Any number of handlers may react to it; one handler's failure is its own.
    """


class Command(Message):
    """A request to act, named in the imperative (``ReserveStock``); exactly one handler."""


M = TypeVar("M", bound=Message)
