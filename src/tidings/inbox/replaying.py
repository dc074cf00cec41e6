"""Replaying a dead letter: feed its original bytes to the consumer again.

Replaying through the consumer itself (the default) applies the message to that
consumer only and works even for bytes that never parsed, once the consumer's
code has been fixed. Replaying through a broker publishes the original bytes
again on the original topic: every queue bound to it gets a copy, and consumers
that already applied the message skip it through their inbox.
"""

from __future__ import annotations

import uuid

from tidings.brokers.base import Broker, OutgoingMessage
from tidings.errors import ConfigurationError
from tidings.inbox.consumer import Consumer, Outcome
from tidings.inbox.store import get_dead_letter, mark_replayed
from tidings.messages.envelope import without_binary_mode_headers
from tidings.storage.database import Database

PUBLISHED = "published"
"""``replay_outcome`` of a dead letter replayed through a broker."""


async def replay(
    database: Database, dead_letter_id: str, target: Consumer | Broker
) -> Outcome | None:
    """Replay one dead letter; return the consumer's outcome (None through a broker).

    A replay that fails again is dead-lettered again, as a new dead letter; the
    replayed one keeps its record and is marked ``replayed_at`` with the outcome.
    A deferred replay (database unavailable) is not marked. Raises
    :class:`~tidings.errors.NotFound` for an unknown id.
    """
    dead_letter = await get_dead_letter(database, dead_letter_id)
    if isinstance(target, Consumer):
        if target.name != dead_letter.consumer:
            raise ConfigurationError(
                f"dead letter {dead_letter_id} belongs to consumer {dead_letter.consumer}, "
                f"not {target.name}"
            )
        outcome = await target.process(
            dead_letter.body, dead_letter.headers, topic=dead_letter.topic
        )
        if outcome.settled:
            await mark_replayed(database, dead_letter_id, outcome.value)
        return outcome
    if dead_letter.topic is None:
        raise ConfigurationError(
            f"dead letter {dead_letter_id} has no topic; replay it through its consumer"
        )
    # A fresh transport id: JetStream would drop a republish of the original id as a
    # duplicate within its window. Consumers deduplicate on the envelope's id.
    await target.publish(
        [
            OutgoingMessage(
                message_id=f"replay-{dead_letter.id}-{uuid.uuid4().hex[:8]}",
                topic=dead_letter.topic,
                body=dead_letter.body,
                headers=without_binary_mode_headers(dead_letter.headers),
            )
        ]
    )
    await mark_replayed(database, dead_letter_id, PUBLISHED)
    return None
