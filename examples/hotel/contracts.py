"""The messages the hotel's services exchange: commands to participants and their replies.

This module is the published contract; each service imports it, never another
service's code.
"""

from __future__ import annotations

from tidings.messages import Command, Event, MessageRegistry

registry = MessageRegistry()


# -- rooms ------------------------------------------------------------------------------------


@registry.register("rooms.ValidateAvailability")
class ValidateAvailability(Command):
    booking_id: str
    room_type: str
    nights: int


@registry.register("rooms.AvailabilityConfirmed")
class AvailabilityConfirmed(Event):
    booking_id: str
    free_rooms: int


@registry.register("rooms.NoAvailability")
class NoAvailability(Event):
    booking_id: str
    room_type: str


@registry.register("rooms.ReserveRoom")
class ReserveRoom(Command):
    booking_id: str
    room_type: str


@registry.register("rooms.RoomReserved")
class RoomReserved(Event):
    booking_id: str
    room_number: int


@registry.register("rooms.RoomUnavailable")
class RoomUnavailable(Event):
    booking_id: str


@registry.register("rooms.ReleaseRoom")
class ReleaseRoom(Command):
    booking_id: str


@registry.register("rooms.RoomReleased")
class RoomReleased(Event):
    booking_id: str


# -- payments ---------------------------------------------------------------------------------


@registry.register("payments.ProcessPayment")
class ProcessPayment(Command):
    booking_id: str
    amount_cents: int
    card: str


@registry.register("payments.PaymentProcessed")
class PaymentProcessed(Event):
    booking_id: str
    payment_id: str


@registry.register("payments.PaymentDeclined")
class PaymentDeclined(Event):
    booking_id: str
    reason: str


@registry.register("payments.PaymentGatewayUnavailable")
class PaymentGatewayUnavailable(Event):
    """A transient failure: nothing was charged, try again later."""

    booking_id: str
    attempt: int


@registry.register("payments.RefundPayment")
class RefundPayment(Command):
    booking_id: str


@registry.register("payments.PaymentRefunded")
class PaymentRefunded(Event):
    booking_id: str


# -- bookings (the orchestrator is also a participant: it confirms its own booking) ----------


@registry.register("bookings.ConfirmBooking")
class ConfirmBooking(Command):
    booking_id: str


@registry.register("bookings.BookingConfirmed")
class BookingConfirmed(Event):
    booking_id: str


# -- notifications ----------------------------------------------------------------------------


@registry.register("notifications.SendConfirmation")
class SendConfirmation(Command):
    booking_id: str
    guest: str
    room_number: int


@registry.register("notifications.ConfirmationSent")
class ConfirmationSent(Event):
    booking_id: str
