"""The registry: which model a type name means, at which schema version, and how
older versions of its data are upcast on read."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tidings.errors import InvalidMessage, UnknownMessageType
from tidings.messages import causation, tracing
from tidings.messages.base import M, Message
from tidings.messages.envelope import Envelope
from tidings.storage.types import utcnow

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the data of schema version n into the data of version n + 1."""


@dataclass(frozen=True)
class Registration:
    type_name: str
    version: int
    model: type[Message]


class MessageRegistry:
    """Type names and schema versions of a system's messages.

    One model per type name, at its current version; data written under an older
    version is upcast step by step (v1 -> v2 -> v3) by :meth:`upcaster` functions
    before the current model validates it.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, Registration] = {}
        self._by_model: dict[type[Message], Registration] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, type_name: str, *, version: int = 1) -> Callable[[type[M]], type[M]]:
        """Class decorator: ``type_name`` (dotted, e.g. ``orders.OrderPlaced``) means this model."""
        if not type_name:
            raise ValueError("a message type name must not be empty")
        if version < 1:
            raise ValueError(f"{type_name}: schema versions start at 1, not {version}")

        def decorate(model: type[M]) -> type[M]:
            if not issubclass(model, Message):
                raise TypeError(f"{model.__name__} is not a tidings Message")
            known = self._by_name.get(type_name)
            if known is not None and known.model is not model:
                raise ValueError(
                    f"{type_name} is already registered to {known.model.__name__}; "
                    "keep one model per type name and upcast older versions"
                )
            if model in self._by_model and self._by_model[model].type_name != type_name:
                raise ValueError(
                    f"{model.__name__} is already registered as {self._by_model[model].type_name}"
                )
            registration = Registration(type_name, version, model)
            self._by_name[type_name] = registration
            self._by_model[model] = registration
            return model

        return decorate

    def upcaster(self, type_name: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: the function turns ``type_name`` data at ``from_version`` into the next."""

        def decorate(function: Upcaster) -> Upcaster:
            key = (type_name, from_version)
            if key in self._upcasters:
                raise ValueError(f"{type_name} already has an upcaster from version {from_version}")
            self._upcasters[key] = function
            return function

        return decorate

    def registration(self, type_name: str) -> Registration:
        try:
            return self._by_name[type_name]
        except KeyError:
            raise UnknownMessageType(f"no message type {type_name!r} is registered") from None

    def type_name_of(self, message: Message | type[Message]) -> str:
        model = message if isinstance(message, type) else type(message)
        try:
            return self._by_model[model].type_name
        except KeyError:
            raise UnknownMessageType(f"{model.__name__} is not a registered message") from None

    def version_of(self, message: Message | type[Message]) -> int:
        model = message if isinstance(message, type) else type(message)
        return self.registration(self.type_name_of(model)).version

    @property
    def type_names(self) -> list[str]:
        return sorted(self._by_name)

    def envelope_for(
        self,
        message: Message,
        *,
        source: str,
        aggregate_type: str | None = None,
        aggregate_id: str | None = None,
        aggregate_version: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        subject: str | None = None,
        message_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        caused_by: Envelope | None = None,
    ) -> Envelope:
        """Wrap ``message`` in a new envelope.

        ``caused_by`` (the message being handled) supplies the defaults for the
        correlation id (the flow's), the causation id (its id) and the trace. Without
        it, the cause in hand supplies them (:mod:`tidings.messages.causation`: a
        consumer's handler runs inside the handled message's); without either the
        message starts a flow: its correlation id is its own id and it gets a fresh
        trace. ``headers`` may carry W3C trace context to continue (the
        broker headers of the message being handled). ``subject`` defaults to the
        aggregate id.
        """
        registration = self.registration(self.type_name_of(message))
        new_id = message_id or str(uuid.uuid4())
        if caused_by is not None:
            correlation_id = correlation_id or caused_by.correlationid
            causation_id = causation_id or caused_by.id
        else:
            inherited = causation.current_cause()
            # A message given its own flow id inherits the cause only within that flow.
            if inherited is not None and correlation_id in (None, inherited.correlation_id):
                correlation_id = inherited.correlation_id
                causation_id = causation_id or inherited.causation_id
        trace = tracing.for_new_message(
            cause=caused_by.trace_context if caused_by is not None else None, headers=headers
        )
        return Envelope(
            id=new_id,
            source=source,
            type=registration.type_name,
            time=utcnow(),
            data=message.model_dump(mode="json"),
            subject=subject if subject is not None else aggregate_id,
            schemaversion=registration.version,
            aggregatetype=aggregate_type,
            aggregateid=aggregate_id,
            aggregateversion=aggregate_version,
            correlationid=correlation_id or new_id,
            causationid=causation_id,
            traceparent=trace.traceparent,
            tracestate=trace.tracestate,
        )

    def upcast(self, type_name: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` of ``type_name`` at ``version``, upcast to the current version."""
        registration = self.registration(type_name)
        if version > registration.version:
            raise UnknownMessageType(
                f"{type_name} v{version} is newer than the registered v{registration.version}"
            )
        upgraded = copy.deepcopy(dict(data))
        for step in range(version, registration.version):
            upcaster = self._upcasters.get((type_name, step))
            if upcaster is None:
                raise UnknownMessageType(
                    f"{type_name}: no upcaster from v{step} to v{step + 1} is registered"
                )
            try:
                upgraded = upcaster(upgraded)
            except Exception as error:
                raise InvalidMessage(
                    f"{type_name}: upcasting v{step} to v{step + 1} failed: {error!r}"
                ) from error
        return upgraded

    def load(self, envelope: Envelope) -> Message:
        """The typed message in ``envelope``, upcast to the current version and validated.

        Raises :class:`~tidings.errors.UnknownMessageType` for an unregistered type
        (or a version with no path to the current one) and
        :class:`~tidings.errors.InvalidMessage`, naming the fields, when the data
        fails validation.
        """
        registration = self.registration(envelope.type)
        data = self.upcast(envelope.type, envelope.schemaversion, envelope.data)
        try:
            return registration.model.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"field {'.'.join(str(part) for part in item['loc']) or '<root>'!r}: {item['msg']}"
                for item in error.errors()
            )
            raise InvalidMessage(
                f"{envelope.type} v{registration.version} (message {envelope.id}): {problems}"
            ) from error
