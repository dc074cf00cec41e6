"""How search matches text on each backend, as a capability rather than a backend test.

PostgreSQL has real full-text search (``to_tsvector`` / ``websearch_to_tsquery``
with a GIN index); elsewhere a case-insensitive LIKE over name and description is
the honest fallback. Callers ask :func:`full_text_for` and never compare names.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, cast, func, literal, literal_column, or_

from shop.search.tables import documents
from tidings.storage.capabilities import Backend

#: The text-search configuration: ``simple`` does no language stemming, so a SKU or
#: a brand name matches as typed.
TS_CONFIG = "simple"
_DOCUMENT_VECTOR = f"to_tsvector('{TS_CONFIG}', name || ' ' || description)"


@dataclass(frozen=True)
class FullText:
    ranked: bool
    """Matches come with a relevance rank (otherwise they are ordered by name)."""
    index_statements: tuple[str, ...]
    """DDL that makes the match fast on this backend (run by the migration)."""


FULL_TEXT: dict[Backend, FullText] = {
    Backend.POSTGRESQL: FullText(
        ranked=True,
        index_statements=(
            "CREATE INDEX ix_search_documents_fts ON search_documents USING GIN "
            f"({_DOCUMENT_VECTOR})",
        ),
    ),
    Backend.MARIADB: FullText(ranked=False, index_statements=()),
    Backend.SQLITE: FullText(ranked=False, index_statements=()),
}


def full_text_for(backend: Backend) -> FullText:
    return FULL_TEXT[backend]


def _document_vector() -> ColumnElement[object]:
    # Literally the GIN index's expression: PostgreSQL uses an expression index only
    # for a query expression identical to it (a bound ' ' parameter would not be).
    return literal_column(_DOCUMENT_VECTOR)


def match(capability: FullText, query: str) -> tuple[ColumnElement[bool], ColumnElement[object]]:
    """The WHERE clause for ``query`` and the ORDER BY key (best first) on this backend."""
    if capability.ranked:
        # The configuration as a regconfig literal: a bound text parameter would make
        # PostgreSQL look for websearch_to_tsquery(varchar, varchar), which does not exist.
        ts_query = func.websearch_to_tsquery(
            literal_column(f"'{TS_CONFIG}'::regconfig"), cast(literal(query), String)
        )
        vector = _document_vector()
        return vector.bool_op("@@")(ts_query), func.ts_rank(vector, ts_query).desc()
    pattern = f"%{_escape_like(query.lower())}%"
    clause = or_(
        func.lower(documents.c.name).like(pattern, escape="\\"),
        func.lower(documents.c.description).like(pattern, escape="\\"),
        func.lower(documents.c.sku).like(pattern, escape="\\"),
    )
    return clause, documents.c.name.asc()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
