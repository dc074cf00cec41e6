"""The blog's Post aggregate: decisions and recorded events, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from examples.blog.domain import (
    CommentAdded,
    DomainError,
    Post,
    PostCreated,
    PostDeleted,
    PostUpdated,
    event_data,
    event_from,
)

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_a_new_post_records_its_creation() -> None:
    post = Post.create("p1", "  Hello  ", "body", "ada", NOW)
    assert post.pending == [PostCreated("p1", "Hello", "body", "ada", NOW.isoformat())]
    assert (post.version, post.saved_version) == (1, 0)


def test_a_post_rebuilt_from_history_continues_from_its_version() -> None:
    history = [
        PostCreated("p1", "T", "b", "ada", NOW.isoformat()),
        CommentAdded("p1", "c1", "bob", "hi", NOW.isoformat()),
    ]
    post = Post.from_history("p1", history)
    post.update("T2", "b2", NOW)
    post.update("T2", "b2", NOW)  # no change, no event
    assert (post.title, post.version, post.saved_version) == ("T2", 3, 2)
    assert post.pending == [PostUpdated("p1", "T2", "b2", NOW.isoformat())]


def test_a_deleted_post_refuses_updates_and_comments() -> None:
    post = Post.from_history("p1", [PostCreated("p1", "T", "b", "ada", NOW.isoformat())])
    post.delete(NOW)
    post.delete(NOW)
    assert post.pending == [PostDeleted("p1", NOW.isoformat())]
    with pytest.raises(DomainError, match="deleted"):
        post.update("x", "y", NOW)
    with pytest.raises(DomainError, match="deleted"):
        post.add_comment("c1", "bob", "hi", NOW)


def test_comments_must_have_text_and_unique_ids() -> None:
    post = Post.create("p1", "T", "b", "ada", NOW)
    post.add_comment("c1", "bob", "hi", NOW)
    with pytest.raises(DomainError, match="already"):
        post.add_comment("c1", "bob", "again", NOW)
    with pytest.raises(DomainError, match="text"):
        post.add_comment("c2", "bob", "  ", NOW)
    with pytest.raises(DomainError, match="title"):
        Post.create("p2", " ", "b", "ada", NOW)


def test_events_round_trip_through_their_stored_form() -> None:
    event = CommentAdded("p1", "c1", "bob", "hi", NOW.isoformat())
    assert event_from(event.type, event_data(event)) == event
