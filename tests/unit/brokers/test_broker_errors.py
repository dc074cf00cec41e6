"""Client-library exceptions become the tidings broker error tree."""

from __future__ import annotations

import aiormq.exceptions as amqp
import nats.errors
import nats.js.errors
import pytest
from pamqp.commands import Basic

from tidings.brokers.errors import amqp_errors, nats_errors, translate_amqp, translate_nats
from tidings.errors import BrokerError, BrokerUnavailable, PublishNotConfirmed


@pytest.mark.parametrize(
    ("error", "publishing", "expected"),
    [
        (amqp.AMQPConnectionError("refused"), False, BrokerUnavailable),
        (amqp.ConnectionClosed(320, "forced"), True, BrokerUnavailable),
        (amqp.ChannelInvalidStateError("closed"), True, BrokerUnavailable),
        (amqp.DeliveryError(None, Basic.Nack(delivery_tag=1)), True, PublishNotConfirmed),
        (TimeoutError(), True, PublishNotConfirmed),
        (TimeoutError(), False, BrokerUnavailable),
        (ConnectionRefusedError(111, "refused"), False, BrokerUnavailable),
        (amqp.ChannelPreconditionFailed("inequivalent arg"), False, BrokerError),
        (amqp.ChannelNotFoundEntity("no exchange"), True, PublishNotConfirmed),
    ],
)
def test_amqp_errors_map(error: Exception, publishing: bool, expected: type[BrokerError]) -> None:
    assert type(translate_amqp(error, context="x", publishing=publishing)) is expected


@pytest.mark.parametrize(
    ("error", "publishing", "expected"),
    [
        (nats.errors.NoServersError(), False, BrokerUnavailable),
        (nats.errors.ConnectionClosedError(), True, BrokerUnavailable),
        (nats.errors.NoRespondersError(), True, PublishNotConfirmed),
        (nats.errors.NoRespondersError(), False, BrokerUnavailable),
        (nats.errors.TimeoutError(), True, PublishNotConfirmed),
        (nats.errors.TimeoutError(), False, BrokerUnavailable),
        (nats.js.errors.APIError(), True, PublishNotConfirmed),
    ],
)
def test_nats_errors_map(error: Exception, publishing: bool, expected: type[BrokerError]) -> None:
    assert type(translate_nats(error, context="x", publishing=publishing)) is expected


def test_context_managers_chain_the_original_and_let_others_pass() -> None:
    with pytest.raises(BrokerUnavailable) as caught, amqp_errors("connect"):
        raise amqp.AMQPConnectionError("refused")
    assert isinstance(caught.value.__cause__, amqp.AMQPConnectionError)
    with pytest.raises(PublishNotConfirmed), nats_errors("publish", publishing=True):
        raise nats.errors.NoRespondersError()
    with pytest.raises(ValueError, match="not ours"), nats_errors("x"):
        raise ValueError("not ours")
