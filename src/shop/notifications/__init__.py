"""The notifications service: what was sent to whom (SQLite). Sends are idempotent."""
