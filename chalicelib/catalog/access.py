"""Who may read and change the catalog. Pure: plain values in, a value or a
domain exception out; no HTTP, no database, no AWS.

    customer  reads active products only, and their stock as available
              (a retired product does not exist for them; asking for the
              retired ones is Forbidden)
    staff     reads everything with the whole stock; writes products
    service   reads everything with the whole stock; never writes
    system    neither: the scheduled functions never touch the catalog"""

from chalicelib.core.errors import Forbidden
from chalicelib.identity.principal import CUSTOMER, SERVICE, STAFF, Principal


def check_can_read(principal: Principal) -> None:
    if principal.role not in (CUSTOMER, STAFF, SERVICE):
        raise Forbidden('This caller may not read products')


def check_can_write(principal: Principal) -> None:
    if principal.role != STAFF:
        raise Forbidden('Only staff may change the catalog')


def sees_whole_stock(principal: Principal) -> bool:
    """on_hand and reserved beside available, or only what is available."""
    return principal.role != CUSTOMER


def may_see(principal: Principal, active: bool) -> bool:
    """Whether this product exists for the caller: a retired one does not for
    a customer (the same answer as an id never used)."""
    return active or principal.role != CUSTOMER


def scope_for_list(principal: Principal, active: bool | None) -> bool | None:
    """The active filter a list applies: a customer's is always active only."""
    if principal.role != CUSTOMER:
        return active
    if active is False:
        raise Forbidden('A customer sees active products only')
    return True
