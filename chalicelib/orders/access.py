"""Who may do what to which order. Pure: plain values in, a value or a
domain exception out; no HTTP, no database, no AWS.

    customer  creates for themselves; reads, lists and cancels their own
              orders, and changes their addresses
    staff     everything, for anyone
    service   reads and lists any order, makes any status change the lifecycle
              allows except the ones that move money (setting paid, cancelling
              a paid order: money in or out is staff's); never creates, never
              deletes, never changes an address
    system    the service's own scheduled functions: status changes, like service

A customer never learns that another user's order exists: touching one is
OrderNotFound, the same answer as for an id that was never used. What a
customer may not ask for at all (another user's list, a status other than
cancelled, a delete) is Forbidden. These checks come before the lifecycle's:
a customer's cancel of a shipped order passes here and is refused there."""

from chalicelib.core.errors import Forbidden, InvalidInput, OrderNotFound
from chalicelib.identity.principal import CUSTOMER, SERVICE, STAFF, SYSTEM, Principal

CANCELLED, PAID = 'cancelled', 'paid'


def sees_authors(principal: Principal) -> bool:
    """Whether the history shows who (which token's sub) made each change, or
    only in which role: a customer reading their order's history learns
    that staff or the fulfilment service acted, not which account did, and
    the service needs no more either."""
    return principal.role == STAFF


def _is_own(principal: Principal, order_user_id: int) -> bool:
    return principal.user_id is not None and order_user_id == principal.user_id


def creation_owner(
    principal: Principal, body_user_id: int | None, body_email: str | None
) -> tuple[int | None, str | None]:
    """(user_id, user_email) of the order this principal may create from a
    body's user_id and user_email (either may be None: left out).

    Left out, user_id means the caller. A customer's order carries the
    verified email or none; staff's carries the body's, or staff's own
    verified email when staff orders for themselves without one."""
    if principal.role == CUSTOMER:
        if body_user_id is not None and body_user_id != principal.user_id:
            raise Forbidden('A customer may create orders only for themselves')
        # Case aside, a body email must be the one the issuer verified; the
        # order then carries the verified spelling.
        if body_email is not None and (
            principal.email is None or body_email.lower() != principal.email.lower()
        ):
            raise Forbidden("user_email must be the token's verified email")
        return principal.user_id, principal.email
    if principal.role == STAFF:
        user_id = body_user_id if body_user_id is not None else principal.user_id
        if user_id is None:
            raise InvalidInput('Invalid order', {'user_id': ['Missing data for required field.']})
        if body_email is None and user_id == principal.user_id:
            return user_id, principal.email
        return user_id, body_email
    raise Forbidden('This caller may not create orders')


def scope_for_list(principal: Principal, requested_user_id: int | None) -> int | None:
    """The user_id filter a list runs with (None: every user), from the one
    asked for (a ?user_id= filter, a /users/{id}/orders path, or what a cursor
    remembers; None when none was given). A customer's list is always theirs."""
    if principal.role == CUSTOMER:
        if requested_user_id is not None and requested_user_id != principal.user_id:
            raise Forbidden('A customer may list only their own orders')
        return principal.user_id
    if principal.role in (STAFF, SERVICE):
        return requested_user_id
    raise Forbidden('This caller may not list orders')


def check_can_read(principal: Principal, order_user_id: int) -> None:
    """Reading an order (and its history) owned by order_user_id."""
    if principal.role == CUSTOMER:
        if not _is_own(principal, order_user_id):
            raise OrderNotFound()
        return
    if principal.role not in (STAFF, SERVICE, SYSTEM):
        raise Forbidden('This caller may not read orders')


def check_status_change(
    principal: Principal, order_user_id: int, current_status: str, new_status: str
) -> None:
    """Setting new_status on an order owned by order_user_id, now at
    current_status; the lifecycle decides afterwards whether the move itself
    is allowed."""
    check_can_read(principal, order_user_id)
    if principal.role == CUSTOMER and new_status != CANCELLED:
        raise Forbidden('A customer may only cancel an order')
    if principal.role == SERVICE and moves_money(current_status, new_status):
        # A fulfilment token would otherwise mark an order paid with no money,
        # or cancel a paid one and so refund it in full.
        raise Forbidden('Only staff may mark an order paid or cancel a paid order')


def check_address_change(principal: Principal, order_user_id: int) -> None:
    """Changing the addresses of an order owned by order_user_id: its
    customer or staff (the order's state decides afterwards whether it may
    still change: orders/changes.py)."""
    check_can_read(principal, order_user_id)
    if principal.role not in (CUSTOMER, STAFF):
        raise Forbidden("Only the order's customer or staff may change its addresses")


def moves_money(current_status: str, new_status: str) -> bool:
    """Whether the move takes money in (paid) or gives it back (cancelling a
    paid order refunds it)."""
    return new_status == PAID or (new_status == CANCELLED and current_status == PAID)


def check_delete(principal: Principal, order_user_id: int) -> None:
    """Deleting an order owned by order_user_id: staff only."""
    check_can_read(principal, order_user_id)
    if principal.role != STAFF:
        raise Forbidden('This caller may not delete orders')
