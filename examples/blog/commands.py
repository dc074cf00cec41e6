"""The commands of the blog's write side, and the handler that runs each one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from examples.blog.domain import Post
from examples.blog.repository import PostRepository


@dataclass(frozen=True)
class CreatePost:
    post_id: str
    title: str
    body: str
    author: str


@dataclass(frozen=True)
class UpdatePost:
    post_id: str
    title: str
    body: str


@dataclass(frozen=True)
class DeletePost:
    post_id: str


@dataclass(frozen=True)
class AddComment:
    post_id: str
    comment_id: str
    author: str
    text: str


Command = CreatePost | UpdatePost | DeletePost | AddComment


@dataclass(frozen=True)
class Written:
    """What a command returns: the post and the event-store position it wrote.

    A query given ``position`` waits until its read model has reached it
    (read-your-writes). ``position`` is None when the command changed nothing.
    """

    post_id: str
    version: int
    position: int | None


async def handle(command: Command, posts: PostRepository) -> Written:
    now = datetime.now(UTC)
    match command:
        case CreatePost():
            post = Post.create(command.post_id, command.title, command.body, command.author, now)
        case UpdatePost():
            post = await posts.get(command.post_id)
            post.update(command.title, command.body, now)
        case DeletePost():
            post = await posts.get(command.post_id)
            post.delete(now)
        case AddComment():
            post = await posts.get(command.post_id)
            post.add_comment(command.comment_id, command.author, command.text, now)
    position = await posts.save(post)
    return Written(post.post_id, post.version, position)
