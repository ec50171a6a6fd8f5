"""MAX_PENDING_ORDERS_PER_CUSTOMER: a customer holds at most that many
`pending` orders, so that nobody can hold a shop's stock by placing order
after order. Staff are not limited (a back office places what it must).

However many copies create for one customer at once, the limit holds: the
create transaction first locks the customer's row of `customer_locks`
(written by their first order), then counts their pending orders in the
(user_id, status) index. Creates for one customer take turns from that lock
to their commit, so each counts the orders of those before it; creates for
different customers never wait for each other, and nothing else takes these
locks. It must be the transaction's first statement: MariaDB's REPEATABLE
READ reads from a snapshot taken at a transaction's first read, and a count
from a snapshot older than the lock would miss an order committed while
this one waited.

A count rather than a counter: paying, cancelling, expiring and deleting an
order touch nothing here, and only a customer's create pays for the rule
(one keyed upsert and one count over a few index entries)."""

from __future__ import annotations

from chalicelib.core.errors import TooManyPendingOrders
from chalicelib.identity.principal import CUSTOMER, Principal
from chalicelib.orders import queries
from chalicelib.platform.config import get_settings
from chalicelib.storage import connection, statements


def check_before_create(principal: Principal) -> None:
    """Raise TooManyPendingOrders when a customer's order would be one
    pending order too many for them (a customer orders for themselves only:
    orders/access.py); call first in the create's transaction."""
    limit = get_settings().max_pending_orders
    if principal.role != CUSTOMER or not limit:
        return
    statements.run(queries.LOCK_CUSTOMER[connection.is_sqlite()], user_id=principal.user_id)
    pending = statements.scalar(
        queries.COUNT_USER_ORDERS_WITH_STATUS, user_id=principal.user_id, status='pending'
    )
    if pending >= limit:
        raise TooManyPendingOrders()
