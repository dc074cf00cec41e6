"""The package's public surface is what ``__all__`` says."""

from __future__ import annotations

import tidings.sagas


def test_every_public_name_exists_and_nothing_public_is_unlisted() -> None:
    for name in tidings.sagas.__all__:
        assert hasattr(tidings.sagas, name), name
    assert sorted(tidings.sagas.__all__) == sorted(set(tidings.sagas.__all__))
    modules = {"core", "definition", "engine", "messaging", "orchestrator", "ports", "state"}
    modules |= {"status", "worker", "tables", "metrics", "choreography", "migrations", "bench"}
    modules |= {"http"}
    exported = {
        name for name in vars(tidings.sagas) if not name.startswith("_") and name not in modules
    }
    assert exported <= set(tidings.sagas.__all__)
