"""The orders' SQL: an order and its items, status and payment changes made
by version, the lists and the export, expiry's candidates, the sharded counts
and the repairs of make recount. Bound and run by storage/statements.py."""

from __future__ import annotations

from chalicelib.storage import dialect
from chalicelib.storage.model_rows import column_list
from chalicelib.storage.models import (
    CustomerLock,
    IdempotencyKey,
    Order,
    OrderCount,
    OrderHistory,
    OrderItem,
    Refund,
    ReturnHistory,
)
from chalicelib.storage.statements import KeysetPages, Statement

ORDER_COLUMNS = column_list(Order)

ORDER = Statement(Order, f'SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = :order_id')
ORDER_FOR_UPDATE = Statement(Order, ORDER.text, for_update=True)
ITEMS_OF = Statement(
    OrderItem,
    (
        f'SELECT {column_list(OrderItem)} '
        'FROM order_items WHERE order_id IN (:order_ids) ORDER BY order_item_id'
    ),
)
# The version in the WHERE makes the check and the write one atomic step.
CHANGE_STATUS = Statement(
    Order,
    (
        'UPDATE orders SET status = :status, version = :version + 1, updated_at = :updated_at '
        'WHERE order_id = :order_id AND version = :version'
    ),
)
# The move to shipped, with what the shipper said, in the same atomic step.
SHIP = Statement(
    Order,
    (
        'UPDATE orders SET status = :status, version = :version + 1, updated_at = :updated_at, '
        'carrier = :carrier, tracking_number = :tracking_number, tracking_url = :tracking_url, '
        'shipped_at = :shipped_at WHERE order_id = :order_id AND version = :version'
    ),
)
# A change of the order's money (a PUT to paid, a card payment, a refund that
# succeeded, a cancellation that refunded at once), with its status, in one
# atomic step like every change (orders/service.apply_change writes them all).
CHANGE_PAYMENT = Statement(
    Order,
    (
        'UPDATE orders SET status = :status, version = :version + 1, updated_at = :updated_at, '
        'amount_paid = :amount_paid, amount_refunded = :amount_refunded, '
        'payment_provider = :payment_provider, payment_reference = :payment_reference '
        'WHERE order_id = :order_id AND version = :version'
    ),
)
_changes: dict[tuple[str, ...], Statement] = {}


def change_of(columns: tuple[str, ...]) -> Statement:
    """An address change (and whatever came with it: a status, a payment):
    exactly `columns` written, by version like every change."""
    if columns not in _changes:
        assigned = ''.join(f', {name} = :{name}' for name in columns)
        _changes[columns] = Statement(
            Order,
            f'UPDATE orders SET version = :version + 1{assigned} '
            'WHERE order_id = :order_id AND version = :version',
        )
    return _changes[columns]


# A line taxed again (its order's destination moved), inside the order's change.
RETAX_LINE = Statement(
    OrderItem,
    'UPDATE order_items SET tax = :tax, tax_rate = :tax_rate '
    'WHERE order_item_id = :order_item_id AND order_id = :order_id',
)
# Pending orders created before :created_at, oldest id first, after a keyset
# :after (0 to start): candidates for expiry, each checked again under its lock
# (with the PaymentIntent expiry asks Stripe about first).
PENDING_BEFORE = Statement(
    Order,
    (
        "SELECT order_id, payment_intent_id FROM orders WHERE status = 'pending' "
        'AND created_at < :created_at AND order_id > :after ORDER BY order_id LIMIT :limit'
    ),
)
DELETE_ORDER = Statement(Order, 'DELETE FROM orders WHERE order_id = :order_id')
# The order's refunds not yet final (payments/rules.py's PENDING): money on its
# way back, whose rows a deletion would take with it. Read under the order's
# lock, which every refund's creation and settlement takes too.
REFUNDS_IN_FLIGHT = Statement(
    Refund, "SELECT COUNT(*) FROM refunds WHERE order_id = :order_id AND status = 'pending'"
)
FORGET_KEYS_OF_ORDER = Statement(
    IdempotencyKey, 'DELETE FROM idempotency_keys WHERE order_id = :order_id'
)

HISTORY_OF = Statement(
    OrderHistory,
    (
        f'SELECT {column_list(OrderHistory)} '
        'FROM order_history WHERE order_id = :order_id ORDER BY version'
    ),
)
# The order's returns' entries (chalicelib/returns writes them): each at the
# version the order was at, so that they fall in place among its own.
RETURN_HISTORY_OF = Statement(
    ReturnHistory,
    (
        f'SELECT {column_list(ReturnHistory)} '
        'FROM return_history WHERE order_id = :order_id ORDER BY order_version, id'
    ),
)

# The customer's row that their creates lock, written by their first
# (pending_limit.py), whichever database: SQLite's text and MariaDB's.
LOCK_CUSTOMER = {
    sqlite: Statement(CustomerLock, dialect.insert_or_lock('customer_locks', 'user_id', sqlite))
    for sqlite in (True, False)
}
COUNT_USER_ORDERS = Statement(Order, 'SELECT COUNT(*) FROM orders WHERE user_id = :user_id')
COUNT_USER_ORDERS_WITH_STATUS = Statement(
    Order, ('SELECT COUNT(*) FROM orders WHERE user_id = :user_id AND status = :status')
)

# The order lists, newest first.
ORDER_PAGES = KeysetPages(Order, 'order_id', descending=True, filters=('status', 'user_id'))


_exports: dict[tuple[bool, bool], tuple[Statement, Statement, Statement]] = {}


def export_statements(start: bool, end: bool) -> tuple[Statement, Statement, Statement]:
    """(count, page, items) for one user's export, each bounded by created_at
    (`:start` inclusive, `:end` exclusive) only where a bound is given.

    count: how many orders, and the newest one's id (the pages start there,
    so an order created meanwhile never makes the export larger than counted).
    page: the next `:limit` orders before `:after`, newest first (keyset).
    items: the items of the page's orders, the orders found by the page's
    first and last ids, newest order first."""
    key = (start, end)
    if key not in _exports:
        bounds = ''.join(
            condition
            for given, condition in (
                (start, ' AND o.created_at >= :start'),
                (end, ' AND o.created_at < :end'),
            )
            if given
        )
        orders = f'FROM orders o WHERE o.user_id = :user_id{bounds}'
        columns = column_list(Order, 'o')
        _exports[key] = (
            Statement(Order, f'SELECT COUNT(*), MAX(o.order_id) {orders}'),
            Statement(
                Order,
                f'SELECT {columns} {orders} AND o.order_id < :after '
                'ORDER BY o.order_id DESC LIMIT :limit',
            ),
            Statement(
                OrderItem,
                (
                    f'SELECT {column_list(OrderItem, "i")} '
                    f'FROM order_items i JOIN orders o ON o.order_id = i.order_id '
                    f'WHERE o.user_id = :user_id{bounds} AND o.order_id BETWEEN :low AND :high '
                    'ORDER BY i.order_id DESC, i.order_item_id'
                ),
            ),
        )
    return _exports[key]


# Order counts: one shard row per status gains or loses; one statement, so
# the rows it locks are always locked in the same (primary key) order.
COUNT_ENTER = Statement(
    OrderCount, ('UPDATE order_counts SET n = n + 1 WHERE shard = :shard AND status = :status')
)
COUNT_LEAVE = Statement(
    OrderCount, ('UPDATE order_counts SET n = n - 1 WHERE shard = :shard AND status = :status')
)
COUNT_MOVE = Statement(
    OrderCount,
    (
        'UPDATE order_counts SET n = n + CASE WHEN status = :new_status THEN 1 ELSE -1 END '
        'WHERE shard = :shard AND status IN (:old_status, :new_status)'
    ),
)
COUNT_TOTAL = Statement(OrderCount, 'SELECT SUM(n) FROM order_counts')
COUNT_TOTAL_WITH_STATUS = Statement(
    OrderCount, ('SELECT SUM(n) FROM order_counts WHERE status = :status')
)


# Repairs (make recount), while nothing else writes orders: lines of orders
# no longer open stop holding stock (then catalog/queries.py's RECOUNT_RESERVED
# makes every product's `reserved` the sum of the lines that hold it).
RELEASE_CLOSED_LINES = Statement(
    OrderItem,
    (
        'UPDATE order_items SET holds_stock = :holds_stock WHERE holds_stock <> :holds_stock '
        'AND order_id IN (SELECT order_id FROM orders WHERE status IN (:closed))'
    ),
)
