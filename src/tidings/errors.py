"""The one error tree of tidings.

Every failure a caller can act on is one of these; driver and client-library
exceptions are mapped at the edge (``tidings.storage.errors`` for databases,
``tidings.brokers.errors`` for brokers) and never leak.

::

    TidingsError
    ├── ConfigurationError          a bad URL, an unknown system or service
    ├── StorageError
    │   ├── InterfaceError          the driver was misused (closed connection, ...)
    │   └── DatabaseError
    │       ├── OperationalError    the server is unreachable, the connection dropped
    │       │   └── LockConflict    a deadlock or a lock wait timeout: try the transaction again
    │       ├── IntegrityError      a unique, foreign-key or check constraint refused the row
    │       ├── ProgrammingError    bad SQL or a missing table
    │       ├── DataError           a value does not fit its column
    │       ├── NotSupportedError   the backend lacks a needed feature
    │       └── AppendOnlyViolation an UPDATE or DELETE on an append-only table
    ├── ConcurrencyError            an optimistic-lock or expected-version conflict
    ├── NotFound                    a row, stream or saga that does not exist
    ├── MessageError
    │   ├── UnknownMessageType      no model is registered for the type name
    │   ├── MalformedMessage        not a CloudEvents envelope, or no id
    │   └── InvalidMessage          the data failed the model's validation
    └── BrokerError
        ├── BrokerUnavailable       cannot connect, or the connection dropped
        ├── PublishNotConfirmed     the broker nacked, returned or did not confirm
        └── BrokerNotSupported      an unknown broker URL scheme
"""

from __future__ import annotations


class TidingsError(Exception):
    """Base of every error raised by tidings."""


class ConfigurationError(TidingsError):
    """The configuration names something that cannot work (bad URL, unknown service)."""


class StorageError(TidingsError):
    """A failure at the database edge."""


class InterfaceError(StorageError):
    """The driver was used wrongly (for example a closed connection)."""


class DatabaseError(StorageError):
    """The database refused or failed a statement."""


class OperationalError(DatabaseError):
    """The server is unreachable, the connection dropped, a deadlock or lock timeout."""


class LockConflict(OperationalError):
    """The transaction lost a lock race: chosen as a deadlock victim, or it waited for a
    lock longer than the server allows. Nothing it wrote is kept once it rolls back
    (a deadlock has rolled it back already); running it again usually succeeds.
    """


class IntegrityError(DatabaseError):
    """A constraint refused the row (unique, foreign key, check, not null)."""


class ProgrammingError(DatabaseError):
    """The statement is wrong for this database (bad SQL, missing table, no privilege)."""


class DataError(DatabaseError):
    """A value does not fit its column."""


class NotSupportedError(DatabaseError):
    """The backend lacks a feature the call needs."""


class AppendOnlyViolation(DatabaseError):
    """The database refused an UPDATE or DELETE on an append-only table."""


class ConcurrencyError(TidingsError):
    """Someone else changed the row or stream first.

    ``subject`` names the row or stream, ``expected`` is the version the writer
    based its change on and ``actual`` the version the database holds (None when
    the row is gone).
    """

    def __init__(self, subject: str, expected: int | None, actual: int | None) -> None:
        self.subject = subject
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{subject}: expected version {expected}, but the database holds version {actual}"
        )


class NotFound(TidingsError):
    """The row, stream or saga does not exist."""


class MessageError(TidingsError):
    """A message cannot be turned into a typed event or command."""


class UnknownMessageType(MessageError):
    """No model is registered for the message's type name and schema version."""


class MalformedMessage(MessageError):
    """The bytes are not a CloudEvents 1.0 JSON envelope, or required attributes are missing."""


class InvalidMessage(MessageError):
    """The message's data failed its model's validation."""


class BrokerError(TidingsError):
    """A failure at the broker edge."""


class BrokerUnavailable(BrokerError):
    """The broker cannot be reached or the connection dropped."""


class PublishNotConfirmed(BrokerError):
    """The broker did not confirm a publish (nack, return, or timeout)."""


class BrokerNotSupported(BrokerError, ConfigurationError):
    """The broker URL's scheme names no known adapter."""
