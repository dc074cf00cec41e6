"""The write model: a Post aggregate that records events and applies them to itself.

No I/O here: :class:`Post` decides and records; the repository loads and saves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class DomainError(Exception):
    """A command the post refuses (empty title, a deleted post, a duplicate comment)."""


@dataclass(frozen=True)
class PostCreated:
    type: ClassVar[str] = "blog.PostCreated"
    post_id: str
    title: str
    body: str
    author: str
    at: str


@dataclass(frozen=True)
class PostUpdated:
    type: ClassVar[str] = "blog.PostUpdated"
    post_id: str
    title: str
    body: str
    at: str


@dataclass(frozen=True)
class PostDeleted:
    type: ClassVar[str] = "blog.PostDeleted"
    post_id: str
    at: str


@dataclass(frozen=True)
class CommentAdded:
    type: ClassVar[str] = "blog.CommentAdded"
    post_id: str
    comment_id: str
    author: str
    text: str
    at: str


DomainEvent = PostCreated | PostUpdated | PostDeleted | CommentAdded
EVENT_TYPES: dict[str, type[DomainEvent]] = {
    kind.type: kind for kind in (PostCreated, PostUpdated, PostDeleted, CommentAdded)
}


def event_data(event: DomainEvent) -> dict[str, Any]:
    return asdict(event)


def event_from(type_name: str, data: Mapping[str, Any]) -> DomainEvent:
    return EVENT_TYPES[type_name](**data)


@dataclass
class Post:
    """A blog post. ``version`` counts the events it was loaded from or has applied."""

    post_id: str
    version: int = 0
    title: str = ""
    body: str = ""
    author: str = ""
    deleted: bool = False
    comment_ids: set[str] = field(default_factory=set)
    pending: list[DomainEvent] = field(default_factory=list)
    """Events recorded since loading, not yet saved."""

    @classmethod
    def from_history(cls, post_id: str, history: Iterable[DomainEvent]) -> Post:
        post = cls(post_id)
        for event in history:
            post._apply(event)
        return post

    @classmethod
    def create(cls, post_id: str, title: str, body: str, author: str, at: datetime) -> Post:
        _require_title(title)
        post = cls(post_id)
        post._record(PostCreated(post_id, title.strip(), body, author, at.isoformat()))
        return post

    @property
    def saved_version(self) -> int:
        return self.version - len(self.pending)

    def update(self, title: str, body: str, at: datetime) -> None:
        self._require_live()
        _require_title(title)
        if (title.strip(), body) != (self.title, self.body):
            self._record(PostUpdated(self.post_id, title.strip(), body, at.isoformat()))

    def delete(self, at: datetime) -> None:
        if not self.deleted:
            self._record(PostDeleted(self.post_id, at.isoformat()))

    def add_comment(self, comment_id: str, author: str, text: str, at: datetime) -> None:
        self._require_live()
        if not text.strip():
            raise DomainError("a comment needs some text")
        if comment_id in self.comment_ids:
            raise DomainError(f"comment {comment_id} is already on post {self.post_id}")
        self._record(CommentAdded(self.post_id, comment_id, author, text, at.isoformat()))

    def _require_live(self) -> None:
        if self.version == 0:
            raise DomainError(f"post {self.post_id} does not exist")
        if self.deleted:
            raise DomainError(f"post {self.post_id} was deleted")

    def _record(self, event: DomainEvent) -> None:
        self._apply(event)
        self.pending.append(event)

    def _apply(self, event: DomainEvent) -> None:
        match event:
            case PostCreated(title=title, body=body, author=author):
                self.title, self.body, self.author = title, body, author
            case PostUpdated(title=title, body=body):
                self.title, self.body = title, body
            case PostDeleted():
                self.deleted = True
            case CommentAdded(comment_id=comment_id):
                self.comment_ids.add(comment_id)
        self.version += 1


def _require_title(title: str) -> None:
    if not title.strip():
        raise DomainError("a post needs a title")
