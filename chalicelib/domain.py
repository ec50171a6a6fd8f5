"""The order rules: totals and the lifecycle. Pure: no database, no AWS."""
from decimal import Decimal

from chalicelib.errors import TransitionForbidden

MAX_MONEY = Decimal('99999999.99')
MAX_ID = 2 ** 63 - 1

STATUSES = ('pending', 'paid', 'shipped', 'delivered', 'cancelled')
TRANSITIONS = {
    'pending': {'paid', 'shipped', 'cancelled'},
    'paid': {'shipped', 'cancelled'},
    'shipped': {'delivered'},
    'delivered': set(),
    'cancelled': set(),
}

ORDER_CREATED = 'order_created'
ORDER_UPDATED = 'order_updated'
ORDER_SHIPPED = 'order_shipped'
ORDER_DELETED = 'order_deleted'
EVENT_SUBJECTS = {
    ORDER_CREATED: 'Order Created',
    ORDER_UPDATED: 'Order Updated',
    ORDER_SHIPPED: 'Order Shipped',
    ORDER_DELETED: 'Order Deleted',
}


def order_total(items):
    """Sum of quantity x price_at_order, exact."""
    return sum((Decimal(item['quantity']) * item['price_at_order'] for item in items),
               Decimal('0.00'))


def check_transition(current, new):
    """Return True if the move changes the order, False if it is a no-op;
    raise TransitionForbidden for a move the lifecycle does not allow."""
    if current == new:
        return False
    if new not in TRANSITIONS[current]:
        if not TRANSITIONS[current]:
            raise TransitionForbidden(
                f"Cannot change status from '{current}' to '{new}': "
                f"'{current}' is final")
        raise TransitionForbidden(
            f"Cannot change status from '{current}' to '{new}'")
    return True


def event_type_for_status(new_status):
    return ORDER_SHIPPED if new_status == 'shipped' else ORDER_UPDATED
