"""The catalog service: products and prices (PostgreSQL). CQRS: its events feed search."""
