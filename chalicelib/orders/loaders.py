"""The order aggregate loaded from its rows, for every use case that reads or
changes an order (the orders' own, payments, refunds): one loader each, so
not-found and who may read are decided once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from chalicelib.core.errors import OrderNotFound
from chalicelib.identity.principal import Principal
from chalicelib.orders import access, queries
from chalicelib.storage import statements
from chalicelib.storage.models import Order, OrderItem


def readable_order(principal: Principal, order_id: int) -> Order:
    """The order, if it exists and this principal may read it (to a customer,
    another user's order does not exist either)."""
    rows = statements.fetch(queries.ORDER, order_id=order_id)
    if not rows:
        raise OrderNotFound()
    access.check_can_read(principal, rows[0].user_id)
    return rows[0]


def locked_order(order_id: int) -> Order:
    """The current row, locked until the transaction ends."""
    rows = statements.fetch(queries.ORDER_FOR_UPDATE, order_id=order_id)
    if not rows:
        raise OrderNotFound()
    return rows[0]


def items_of(order_ids: Sequence[int]) -> defaultdict[int, list[OrderItem]]:
    items: defaultdict[int, list[OrderItem]] = defaultdict(list)
    if order_ids:
        for item in statements.fetch(queries.ITEMS_OF, order_ids=order_ids):
            items[item.order_id].append(item)
    return items
