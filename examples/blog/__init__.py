"""The design's blog with CQRS: an event-sourced Post, four read models, each a projection."""
