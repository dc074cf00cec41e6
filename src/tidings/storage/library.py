"""The MetaData that holds the library's own tables (audit log, outbox, inbox, ...).

Each service's database gets a copy of the tables its migrations include; the
Table objects here are only used to build statements, never ``create_all``.
"""

from __future__ import annotations

from sqlalchemy import MetaData

library_metadata = MetaData()
