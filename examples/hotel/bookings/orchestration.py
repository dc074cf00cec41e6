"""The bookings service orchestrates the booking saga."""

from __future__ import annotations

from examples.hotel.bookings.handlers import track_status
from examples.hotel.contracts import registry
from examples.hotel.saga import booking_saga
from tidings.sagas import Orchestrator

orchestrator = Orchestrator(
    service="bookings",
    definitions=(booking_saga,),
    registry=registry,
    listeners=(track_status,),
)
