"""The booking saga: validate, reserve, pay, confirm, notify; undo in reverse on failure.

Roles: validating changes nothing (``read_only``), reserving the room is
compensatable, the payment is the pivot, and confirming the booking and sending
the confirmation come after it: they are retried until they succeed, never
undone, so a guest is never told "confirmed" about a booking that was released.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.sagas import Compensation, RetryPolicy, SagaDefinition, Step

STEP_DEADLINE = 10.0


def _booking(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"booking_id": data["booking_id"]}


def _remember_room(data: Mapping[str, Any], reply: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, "room_number": reply["room_number"]}


def _remember_payment(data: Mapping[str, Any], reply: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, "payment_id": reply["payment_id"]}


booking_saga = SagaDefinition(
    name="hotel.booking",
    version=1,
    steps=(
        Step(
            "validate_availability",
            command="rooms.ValidateAvailability",
            data=lambda d: {**_booking(d), "room_type": d["room_type"], "nights": d["nights"]},
            success=("rooms.AvailabilityConfirmed",),
            failure=("rooms.NoAvailability",),
            read_only=True,
            deadline=STEP_DEADLINE,
        ),
        Step(
            "reserve_room",
            command="rooms.ReserveRoom",
            data=lambda d: {**_booking(d), "room_type": d["room_type"]},
            success=("rooms.RoomReserved",),
            failure=("rooms.RoomUnavailable",),
            merge=_remember_room,
            deadline=STEP_DEADLINE,
            compensation=Compensation(
                "rooms.ReleaseRoom",
                data=_booking,
                success=("rooms.RoomReleased",),
                deadline=STEP_DEADLINE,
            ),
        ),
        Step(
            "process_payment",
            command="payments.ProcessPayment",
            data=lambda d: {**_booking(d), "amount_cents": d["amount_cents"], "card": d["card"]},
            success=("payments.PaymentProcessed",),
            failure=("payments.PaymentDeclined",),
            transient=("payments.PaymentGatewayUnavailable",),
            retry=RetryPolicy(max_attempts=4, backoff=0.2, multiplier=2.0),
            merge=_remember_payment,
            pivot=True,
            deadline=STEP_DEADLINE,
            compensation=Compensation(
                "payments.RefundPayment",
                data=_booking,
                success=("payments.PaymentRefunded",),
                deadline=STEP_DEADLINE,
            ),
        ),
        Step(
            "confirm_booking",
            command="bookings.ConfirmBooking",
            data=_booking,
            success=("bookings.BookingConfirmed",),
            deadline=STEP_DEADLINE,
        ),
        Step(
            "send_confirmation",
            command="notifications.SendConfirmation",
            data=lambda d: {
                **_booking(d),
                "guest": d["guest"],
                "room_number": d["room_number"],
            },
            success=("notifications.ConfirmationSent",),
            deadline=STEP_DEADLINE,
        ),
    ),
)
