"""Inventory keeps no tables of its own: its state is its event streams (the
library's event store tables, created by its migrations)."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
