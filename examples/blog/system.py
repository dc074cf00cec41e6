"""The blog system: one service, an event-sourced write side and four projections.

Projections are declared in ``extras["projections"]``, where
``tidings projection status|rebuild --system blog`` finds them.
"""

from __future__ import annotations

from pathlib import Path

from examples.blog.demo import run_demo
from examples.blog.read_models import PROJECTIONS, metadata
from tidings.system import Service, System

_HERE = Path(__file__).parent

system = System(
    name="blog",
    description="a blog with CQRS: event-sourced posts, four read models",
    services=(
        Service(
            name="blog",
            metadata=metadata,
            migrations=_HERE / "migrations",
            description="posts (event-sourced), post list, post detail, comments, popular posts",
            library_tables=("events", "snapshots", "projection_checkpoints"),
            append_only=("events",),
        ),
    ),
    demo=run_demo,
    extras={"projections": list(PROJECTIONS)},
)
