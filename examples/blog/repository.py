"""Loading and saving posts through the event store (the only I/O of the write side)."""

from __future__ import annotations

from examples.blog.domain import Post, event_data, event_from
from tidings.errors import NotFound
from tidings.eventstore.base import EventStore, NewEvent

STREAM_PREFIX = "post-"


class PostRepository:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def get(self, post_id: str) -> Post:
        events = await self.store.read_stream(STREAM_PREFIX + post_id)
        if not events:
            raise NotFound(f"post {post_id}")
        return Post.from_history(post_id, (event_from(e.type, e.data) for e in events))

    async def save(self, post: Post) -> int | None:
        """Append the post's new events if nobody else did first; the last position written.

        A concurrent change raises :class:`~tidings.errors.ConcurrencyError`.
        """
        if not post.pending:
            return None
        result = await self.store.append(
            STREAM_PREFIX + post.post_id,
            [NewEvent(event.type, event_data(event)) for event in post.pending],
            expected_version=post.saved_version,
        )
        post.pending.clear()
        return result.last_position
