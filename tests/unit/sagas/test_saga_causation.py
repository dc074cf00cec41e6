"""What a saga's transition listener publishes stays in the saga's flow: inside a
reply's handler it follows the reply, and on a deadline or an operator's retry (no
message in hand) it still carries the saga's correlation id and names a message the
transition is about as its cause."""

from __future__ import annotations

from saga_fixtures import linear_saga

from tidings.messages import Envelope, Event, MessageRegistry, caused_by, current_cause
from tidings.sagas.core import Transition, begin
from tidings.sagas.messaging import in_saga_flow
from tidings.storage.uow import UnitOfWork

registry = MessageRegistry()


@registry.register("test.CustomerTold")
class CustomerTold(Event):
    saga_id: str


async def test_a_listener_without_a_message_in_hand_joins_the_saga_flow() -> None:
    moved = begin(linear_saga(), "saga-1", {}, now=0.0, correlation_id="flow-1")
    published: list[Envelope] = []

    async def listener(uow: UnitOfWork, transition: Transition) -> None:
        published.append(
            registry.envelope_for(CustomerTold(saga_id=transition.state.saga_id), source="t")
        )

    assert current_cause() is None
    await in_saga_flow(listener)(None, moved)  # type: ignore[arg-type]
    sent = [entry.message_id for entry in moved.timeline if entry.message_id]
    assert sent, "the first step's command is in the timeline"
    [told] = published
    assert told.correlationid == "flow-1"
    assert told.causationid == sent[-1]
    assert current_cause() is None


async def test_inside_a_reply_the_listener_follows_the_reply() -> None:
    moved = begin(linear_saga(), "saga-2", {}, now=0.0, correlation_id="flow-2")
    reply = registry.envelope_for(
        CustomerTold(saga_id="saga-2"), source="participant", correlation_id="flow-2"
    )
    published: list[Envelope] = []

    async def listener(uow: UnitOfWork, transition: Transition) -> None:
        published.append(registry.envelope_for(CustomerTold(saga_id="saga-2"), source="t"))

    with caused_by(reply):
        await in_saga_flow(listener)(None, moved)  # type: ignore[arg-type]
    [told] = published
    assert (told.correlationid, told.causationid) == ("flow-2", reply.id)


def test_explicit_ids_win_and_another_flow_is_not_joined() -> None:
    cause = registry.envelope_for(CustomerTold(saga_id="x"), source="t")
    with caused_by(cause):
        inherited = registry.envelope_for(CustomerTold(saga_id="x"), source="t")
        elsewhere = registry.envelope_for(
            CustomerTold(saga_id="x"), source="t", correlation_id="other-flow"
        )
    assert (inherited.correlationid, inherited.causationid) == (cause.correlationid, cause.id)
    assert (elsewhere.correlationid, elsewhere.causationid) == ("other-flow", None)
    fresh = registry.envelope_for(CustomerTold(saga_id="x"), source="t")
    assert (fresh.correlationid, fresh.causationid) == (fresh.id, None)
