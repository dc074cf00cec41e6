"""Analytics' relational tables: none of its own; the facts live in ClickHouse
(:mod:`shop.analytics.facts`), the library's tables come from its migrations."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
