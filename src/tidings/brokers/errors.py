"""Mapping of aio-pika, aiormq and nats-py exceptions to the broker error tree.

::

    BrokerError
    ├── BrokerUnavailable       cannot connect, the connection or channel dropped, a timeout
    ├── PublishNotConfirmed     nack, return of a mandatory publish, no stream, no PubAck
    └── BrokerNotSupported      an unknown URL scheme (raised by the factory)

Adapters wrap every client call in :func:`amqp_errors` or :func:`nats_errors`;
``publishing=True`` turns failures that leave a publish unconfirmed (rather
than the connection unusable) into :class:`PublishNotConfirmed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiormq.exceptions as amqp
import nats.errors as nats_client
import nats.js.errors as jetstream

from tidings.errors import BrokerError, BrokerUnavailable, PublishNotConfirmed, TidingsError


def _describe(error: BaseException, context: str) -> str:
    try:
        detail = str(error)
    except Exception:  # some client exceptions cannot print themselves when half-built
        detail = repr(error.args)
    return f"{context}: {type(error).__name__}: {detail}"


def translate_amqp(error: BaseException, *, context: str, publishing: bool = False) -> BrokerError:
    text = _describe(error, context)
    if isinstance(error, amqp.DeliveryError):  # includes PublishError (a mandatory return)
        return PublishNotConfirmed(text)
    if isinstance(error, TimeoutError):  # before OSError, of which it is a subclass
        return PublishNotConfirmed(text) if publishing else BrokerUnavailable(text)
    if isinstance(
        error,
        amqp.ChannelPreconditionFailed | amqp.ChannelAccessRefused | amqp.ChannelNotFoundEntity,
    ):
        # The server refused the request itself (a queue declared with other arguments,
        # no permission, a deleted exchange): reconnecting will not help.
        return PublishNotConfirmed(text) if publishing else BrokerError(text)
    if isinstance(
        error,
        amqp.AMQPConnectionError
        | amqp.ChannelInvalidStateError
        | amqp.ChannelClosed
        | ConnectionError
        | OSError,
    ):
        return BrokerUnavailable(text)
    return BrokerError(text)


def translate_nats(error: BaseException, *, context: str, publishing: bool = False) -> BrokerError:
    text = _describe(error, context)
    if isinstance(error, nats_client.NoRespondersError | jetstream.NoStreamResponseError):
        # Nobody answered a JetStream request: no stream captures the subject (publish)
        # or JetStream is not enabled on the server.
        return PublishNotConfirmed(text) if publishing else BrokerUnavailable(text)
    if isinstance(error, jetstream.APIError):
        return PublishNotConfirmed(text) if publishing else BrokerError(text)
    if isinstance(error, TimeoutError):  # nats' TimeoutError too; before OSError, its base
        return PublishNotConfirmed(text) if publishing else BrokerUnavailable(text)
    if isinstance(
        error,
        nats_client.ConnectionClosedError
        | nats_client.NoServersError
        | nats_client.StaleConnectionError
        | nats_client.ConnectionReconnectingError
        | nats_client.ConnectionDrainingError
        | nats_client.OutboundBufferLimitError
        | nats_client.AuthorizationError
        | ConnectionError
        | OSError,
    ):
        return BrokerUnavailable(text)
    return BrokerError(text)


@contextmanager
def amqp_errors(context: str, *, publishing: bool = False) -> Iterator[None]:
    """Re-raise aio-pika/aiormq errors as tidings broker errors."""
    try:
        yield
    except TidingsError:
        raise
    except (amqp.AMQPError, amqp.ChannelInvalidStateError, OSError, TimeoutError) as error:
        raise translate_amqp(error, context=context, publishing=publishing) from error


@contextmanager
def nats_errors(context: str, *, publishing: bool = False) -> Iterator[None]:
    """Re-raise nats-py errors as tidings broker errors."""
    try:
        yield
    except TidingsError:
        raise
    except (nats_client.Error, OSError, TimeoutError) as error:
        raise translate_nats(error, context=context, publishing=publishing) from error
