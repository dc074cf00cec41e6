"""Whose orders a caller may place, see and cancel.

A customer acts on their own orders only, and is who the token says: the order's
customer comes from the token, never from the body. Another customer's order is
answered 404, as if it did not exist, so order ids cannot be probed. Staff act on
every order; a service credential may read orders but neither place nor cancel them.
"""

from __future__ import annotations

from shop.common.auth import Forbidden, Principal, Role
from shop.common.errors import Unprocessable
from shop.orders.schemas import NewOrder, Order
from tidings.errors import NotFound


def placed_by(principal: Principal, new: NewOrder) -> NewOrder:
    """``new`` with the customer it is placed for, or the reason the caller may not."""
    if principal.role is Role.CUSTOMER:
        if new.user_id not in (None, principal.subject):
            raise Forbidden("a customer places orders for themselves only: leave user_id out")
        return new.model_copy(update={"user_id": principal.subject})
    if principal.role is Role.STAFF:
        if new.user_id is None:
            raise Unprocessable("user_id", "staff place orders on behalf of a customer: name one")
        return new
    raise Forbidden("a service does not place orders; customers and staff do")


def customer_filter(principal: Principal, user_id: str | None) -> str | None:
    """The customer a listing is restricted to: a customer's own, whatever they ask."""
    if principal.role is not Role.CUSTOMER:
        return user_id
    if user_id not in (None, principal.subject):
        raise Forbidden("a customer lists their own orders only")
    return principal.subject


def require_visible(principal: Principal, order: Order) -> Order:
    """``order`` if the caller may see it; NotFound (404) for another customer's."""
    if principal.role is Role.CUSTOMER and order.user_id != principal.subject:
        raise NotFound(f"order {order.id} does not exist")
    return order


def require_may_cancel(principal: Principal, order: Order) -> None:
    require_visible(principal, order)
    if principal.role is Role.SERVICE:
        raise Forbidden("a service does not cancel orders; customers and staff do")
