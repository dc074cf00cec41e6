"""Names and topic patterns shared by every adapter.

A topic is dot-separated words (``user.ProfileRenamed``). A pattern follows
RabbitMQ's topic exchange: ``*`` matches exactly one word, ``#`` zero or more.
Namespaces and queue names become parts of exchange, queue, stream and consumer
names on the servers, so they are restricted to characters every broker accepts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from tidings.errors import ConfigurationError

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_QUEUE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_WORD = re.compile(r"^[^.*#>\s]+$")


def check_namespace(namespace: str) -> str:
    if not _NAME.match(namespace):
        raise ConfigurationError(f"namespace {namespace!r}: use letters, digits, '_' and '-'")
    return namespace


def check_queue(queue: str) -> str:
    if not _QUEUE.match(queue):
        raise ConfigurationError(
            f"queue {queue!r}: use dot-separated words of letters, digits, '_' and '-'"
        )
    return queue


def check_topic(topic: str) -> str:
    """A topic a message is published to: words only, no wildcards."""
    words = topic.split(".")
    if not topic or not all(_WORD.match(word) for word in words):
        raise ConfigurationError(f"topic {topic!r}: use dot-separated words without wildcards")
    return topic


def check_pattern(pattern: str) -> str:
    words = pattern.split(".")
    if not pattern or not all(word in ("*", "#") or _WORD.match(word) for word in words):
        raise ConfigurationError(f"topic pattern {pattern!r}: use dot-separated words, '*' or '#'")
    return pattern


def check_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    if isinstance(patterns, str):
        raise ConfigurationError("topics must be a sequence of patterns, not one string")
    if not patterns:
        raise ConfigurationError("a queue needs at least one topic pattern")
    return tuple(dict.fromkeys(check_pattern(pattern) for pattern in patterns))


def _words_match(pattern: tuple[str, ...], topic: tuple[str, ...]) -> bool:
    if not pattern:
        return not topic
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_words_match(rest, topic[skip:]) for skip in range(len(topic) + 1))
    if not topic:
        return False
    return (head in ("*", topic[0])) and _words_match(rest, topic[1:])


@lru_cache(maxsize=4096)
def matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` matches the RabbitMQ-style ``pattern``."""
    return _words_match(tuple(pattern.split(".")), tuple(topic.split(".")))


def nats_filters(pattern: str) -> tuple[str, ...]:
    """NATS subject filters (relative to the namespace) covering exactly ``pattern``.

    NATS has ``*`` (one token) and a trailing ``>`` (one or more tokens), so a
    trailing ``#`` becomes two filters: the prefix itself and ``prefix.>``. A ``#``
    anywhere else has no NATS equivalent.
    """
    words = pattern.split(".")
    if "#" in words[:-1]:
        raise ConfigurationError(
            f"topic pattern {pattern!r}: NATS supports '#' only as the last word"
        )
    if words[-1] != "#":
        return (pattern,)
    if len(words) == 1:
        return (">",)
    prefix = ".".join(words[:-1])
    return (prefix, f"{prefix}.>")


def _filter_covers(general: str, specific: str) -> bool:
    """Whether every subject matched by NATS filter ``specific`` is matched by ``general``."""
    outer, inner = general.split("."), specific.split(".")
    for index, word in enumerate(outer):
        if word == ">":
            return len(inner) > index
        if index >= len(inner):
            return False
        if word == "*":
            if inner[index] == ">":
                return False
        elif word != inner[index]:
            return False
    return len(inner) == len(outer)


def minimal_nats_filters(patterns: Sequence[str]) -> tuple[str, ...]:
    """The NATS filters for ``patterns`` without those another filter already covers.

    One durable consumer is made per filter (servers before 2.10 take only one
    filter per consumer), so a filter inside another would deliver twice.
    """
    filters = list(dict.fromkeys(f for pattern in patterns for f in nats_filters(pattern)))
    kept: list[str] = []
    for candidate in filters:
        if any(other != candidate and _filter_covers(other, candidate) for other in filters):
            continue
        kept.append(candidate)
    return tuple(kept)
