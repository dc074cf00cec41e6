"""Topic patterns: RabbitMQ topic-exchange semantics and their NATS subject filters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.brokers._topics import (
    check_namespace,
    check_pattern,
    check_topic,
    matches,
    minimal_nats_filters,
    nats_filters,
)
from tidings.errors import ConfigurationError


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("order.Placed", "order.Placed", True),
        ("order.*", "order.Placed", True),
        ("order.*", "order", False),
        ("order.*", "order.line.Added", False),
        ("order.#", "order", True),
        ("order.#", "order.line.Added", True),
        ("#", "anything.at.all", True),
        ("#.Added", "Added", True),
        ("#.Added", "order.line.Added", True),
        ("*.Created", "user.Created", True),
        ("*.Created", "user.a.Created", False),
        ("a.#.z", "a.z", True),
        ("a.#.z", "a.b.c.z", True),
        ("a.#.z", "a.b.c", False),
        ("order.Placed", "order.Placedx", False),
    ],
)
def test_patterns_match_like_a_topic_exchange(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected


@pytest.mark.parametrize("bad", ["", "a..b", "a.*", "a.#", "a b", "a.>"])
def test_topics_are_words_without_wildcards(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        check_topic(bad)


@pytest.mark.parametrize("bad", ["", "a..b", "a.b*", "x>"])
def test_patterns_are_words_or_wildcards(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        check_pattern(bad)


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "a*"])
def test_namespaces_are_one_plain_word(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        check_namespace(bad)


def test_nats_filters_cover_a_trailing_hash_with_two_filters() -> None:
    assert nats_filters("order.*") == ("order.*",)
    assert nats_filters("order.#") == ("order", "order.>")
    assert nats_filters("#") == (">",)
    with pytest.raises(ConfigurationError):
        nats_filters("a.#.z")


def test_filters_inside_others_are_dropped() -> None:
    assert minimal_nats_filters(["order.*", "#"]) == (">",)
    assert minimal_nats_filters(["order.Placed", "order.*"]) == ("order.*",)
    assert minimal_nats_filters(["order.#", "order.line.*"]) == ("order", "order.>")
    assert minimal_nats_filters(["a.*", "*.b"]) == ("a.*", "*.b")


WORDS = st.sampled_from(["a", "b", "c"])
PATTERN_WORDS = st.sampled_from(["a", "b", "c", "*"])


@given(
    st.lists(PATTERN_WORDS, min_size=1, max_size=4),
    st.booleans(),
    st.lists(WORDS, min_size=1, max_size=5),
)
def test_nats_filters_match_exactly_what_the_pattern_matches(
    words: list[str], trailing_hash: bool, topic_words: list[str]
) -> None:
    pattern = ".".join([*words, "#"] if trailing_hash else words)
    topic = ".".join(topic_words)
    by_filters = any(_nats_match(f, topic) for f in nats_filters(pattern))
    assert by_filters is matches(pattern, topic)


def _nats_match(subject_filter: str, subject: str) -> bool:
    tokens, parts = subject_filter.split("."), subject.split(".")
    for index, token in enumerate(tokens):
        if token == ">":
            return len(parts) > index
        if index >= len(parts) or token not in ("*", parts[index]):
            return False
    return len(parts) == len(tokens)
