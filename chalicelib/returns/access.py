"""Who may open, move and read returns. Pure: plain values in, a domain
exception out. Whether the order exists for the caller at all is the
orders' rule (orders/access.py), checked first: another customer's order is
a 404, as it is everywhere.

    customer  opens a return on their own order; cancels it while requested
    staff     everything
    service   reads (fulfilment sees returns); never writes one"""

from chalicelib.core.errors import Forbidden
from chalicelib.identity.principal import CUSTOMER, STAFF, Principal
from chalicelib.returns.rules import CANCELLED, REQUESTED

# Who may ask for a move at all (the move itself is checked under the lock).
MOVERS = (CUSTOMER, STAFF)


def check_can_open(principal: Principal) -> None:
    if principal.role not in (CUSTOMER, STAFF):
        raise Forbidden('Only the customer or staff may open a return')


def check_can_move(principal: Principal, current: str, new: str) -> None:
    """After the lifecycle allowed the move: a customer may cancel a return
    while it is requested (once approved, the goods may be on their way);
    staff make any move; nobody else any."""
    if principal.role == STAFF:
        return
    if principal.role == CUSTOMER:
        if new != CANCELLED:
            raise Forbidden('A customer may only cancel a return')
        if current != REQUESTED:
            raise Forbidden(
                f"A customer may cancel a return only while it is requested, not '{current}'"
            )
        return
    raise Forbidden('This caller may not change returns')
