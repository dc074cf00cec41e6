"""The search service: a product index projected from catalog events (PostgreSQL
full-text; a LIKE match where the backend has no full-text search)."""
