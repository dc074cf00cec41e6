from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module_name", ["tidings.messages", "tidings.outbox"])
def test_all_names_exist_and_are_exported(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_messages_api_the_other_engineers_code_against() -> None:
    from tidings import messages

    for name in ["Message", "Event", "Command", "MessageRegistry", "Envelope"]:
        assert name in messages.__all__
    for name in ["encode", "decode", "headers_for"]:
        assert callable(getattr(messages, name))
    assert issubclass(messages.Event, messages.Message)
    assert issubclass(messages.Command, messages.Message)
    assert messages.Envelope.specversion == "1.0"
    assert messages.Envelope.datacontenttype == "application/json"
