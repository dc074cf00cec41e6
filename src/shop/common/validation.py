"""What the shop's databases can store, checked at the HTTP edge, in one place.

Every schema and every path or query parameter of the shop's services takes its
constraints from the types here, so a value the database would refuse (a NUL
character in text, which PostgreSQL cannot store; an integer past its column's
range; a string longer than its column) never reaches it: the request answers 422
naming the field instead of a 500.

- ``Annotated[str, Text(200)]``: at most 200 characters, no NUL character.
- :data:`Identifier`: an id as the services store it (at most 36 characters).
- :data:`Version`, :data:`ExpectedVersion`: an optimistic-lock version (INTEGER column).
- :data:`Quantity`, :data:`StockDelta`: units, within the business's bounds.
- :data:`Money`, :data:`Amount`: cents, within bounds that keep an order's total
  (lines x quantity x price) inside a BIGINT.
- :data:`Offset`, :data:`Limit`: paging.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from pydantic import Field, GetCoreSchemaHandler
from pydantic_core import core_schema

INT32_MAX = 2**31 - 1
"""The largest value of an INTEGER column on every backend (versions, quantities)."""

MAX_QUANTITY = 10_000
"""Units of one product in one order line or one reservation line."""

MAX_ORDER_LINES = 100

MAX_STOCK_DELTA = 1_000_000
"""Units one stock adjustment may count in or out."""

MAX_MONEY_CENTS = 10**10
"""A hundred million in the currency's unit. With :data:`MAX_ORDER_LINES` lines of
:data:`MAX_QUANTITY` units each, an order's total stays below 10**16, far inside
BIGINT (9.2 x 10**18), so no sum the shop computes can overflow its column."""

MAX_OFFSET = INT32_MAX
"""No page starts past two billion rows; bounded so the database never sees an
integer past its range."""

NUL = "\x00"


def refuse_nul(value: str) -> str:
    """``value`` unchanged, or a ValueError: PostgreSQL's text types cannot hold NUL,
    so the shop refuses it on every backend alike."""
    if NUL in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


@dataclass(frozen=True)
class Text:
    """Metadata for ``Annotated[str, Text(max_length)]``: a string the database can
    store in a column of ``max_length`` characters (no NUL character)."""

    max_length: int
    min_length: int = 0
    pattern: str | None = None

    def __get_pydantic_core_schema__(
        self, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Lengths and pattern first (they land in the OpenAPI document), NUL after.
        constrained = core_schema.str_schema(
            min_length=self.min_length, max_length=self.max_length, pattern=self.pattern
        )
        return core_schema.no_info_after_validator_function(refuse_nul, constrained)


Identifier = Annotated[str, Text(36, min_length=1)]
"""An id as the services store it: a UUID, or a client's id of at most 36 characters."""

MAX_VERSION = INT32_MAX - 1
"""A change writes ``version + 1``: the version it is based on must leave room for it."""

Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
"""The version of a row the client read (INTEGER column)."""

ExpectedVersion = Annotated[int, Field(ge=0, le=MAX_VERSION)]
"""The version of a stream the client read; 0 for a stream not yet written."""

Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]

StockDelta = Annotated[
    int,
    Field(
        ge=-MAX_STOCK_DELTA,
        le=MAX_STOCK_DELTA,
        description="Units counted in (positive) or out (negative); not 0",
    ),
]

Money = Annotated[int, Field(ge=0, le=MAX_MONEY_CENTS, description="Cents")]
"""A price: 0 (free) up to :data:`MAX_MONEY_CENTS`."""

Amount = Annotated[int, Field(ge=1, le=MAX_MONEY_CENTS, description="Cents")]
"""Money that moves: at least one cent, at most :data:`MAX_MONEY_CENTS`."""

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]

QueryId = Annotated[Identifier | None, Query()]
"""An optional id to filter a list by (``?user_id=``, ``?order_id=``)."""
