"""The SQL that requests run, written once, with named placeholders.

Peewee builds SQL text anew on every execution, which costs about 100 µs a
statement here: more than a primary-key lookup on a warm connection. So the
statements of the request paths are plain SQL text, kept in this module and
nowhere else, and bound by name: `:status` takes the value named `status`,
converted by the model field of that name (money to its column form, times to
the database's format), whatever order the model declares its fields in.

A list value expands its placeholder (`IN (:order_ids)`). Each text is
rendered once per database kind (storage/dialect.py: SQLite takes `:name`,
PyMySQL `%(name)s`); a `:word` inside a quoted literal is no placeholder.
Column lists come from the models (model_rows.column_list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import peewee

from chalicelib.storage import connection, dialect
from chalicelib.storage.model_rows import column_list, from_row, values_of
from chalicelib.storage.models import (
    IdempotencyKey,
    Order,
    OrderCount,
    OrderHistory,
    OrderItem,
    Outbox,
    Product,
)


class Statement:
    def __init__(self, model: type[peewee.Model], text: str, for_update: bool = False) -> None:
        self.model = model  # its fields convert the values named after them
        self.text = text
        # MariaDB locks the rows read until the transaction ends; SQLite's
        # transaction already holds the write lock (BEGIN IMMEDIATE).
        self.for_update = for_update
        self._rendered: dict[tuple[bool, tuple[tuple[str, int], ...]], str] = {}

    def bind(self, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(SQL text for the current database, the parameters by name)."""
        params = {}
        lengths = []
        fields = self.model._meta.fields
        for name, value in values.items():
            field = fields.get(name)
            if isinstance(value, (list, tuple)):
                lengths.append((name, len(value)))
                for index, item in enumerate(value):
                    params[f'{name}_{index}'] = field.db_value(item) if field else item
            else:
                params[name] = field.db_value(value) if field else value
        key = (connection.is_sqlite(), tuple(lengths))
        text = self._rendered.get(key)
        if text is None:
            text = self._rendered[key] = self._render(*key)
        return text, params

    def _render(self, sqlite: bool, lengths: tuple[tuple[str, int], ...]) -> str:
        return dialect.render(
            dialect.expand_lists(self.text, dict(lengths)), sqlite, self.for_update
        )


def run(statement: Statement, **values: Any) -> Any:
    """Execute a statement; the cursor."""
    return connection.database.execute_sql(*statement.bind(values))


def fetch(statement: Statement, **values: Any) -> list[Any]:
    """The rows of a SELECT as model instances."""
    cursor = run(statement, **values)
    model = statement.model
    columns = [model._meta.columns[column[0]] for column in cursor.description]
    return [
        from_row(
            model,
            {
                field.name: None if value is None else field.python_value(value)
                for field, value in zip(columns, row, strict=True)
            },
        )
        for row in cursor.fetchall()
    ]


def scalar(statement: Statement, **values: Any) -> Any:
    return run(statement, **values).fetchone()[0]


_inserts: dict[tuple[type[peewee.Model], tuple[str, ...], int], Statement] = {}


def insert(model: type[peewee.Model], rows: list[dict[str, Any]]) -> int:
    """INSERT rows (dicts keyed by field name, the same keys in each); the id
    of the first row. The column list comes from the keys, so each value goes
    to the column of its own name."""
    names = tuple(rows[0])
    key = (model, names, len(rows))
    statement = _inserts.get(key)
    if statement is None:
        columns = ', '.join(model._meta.fields[name].column_name for name in names)
        groups = ', '.join(
            '(' + ', '.join(f':{name}_r{i}' for name in names) + ')' for i in range(len(rows))
        )
        statement = _inserts[key] = Statement(
            model, f'INSERT INTO {model._meta.table_name} ({columns}) VALUES {groups}'
        )
    fields = model._meta.fields
    values = {
        f'{name}_r{i}': fields[name].db_value(row[name])
        for i, row in enumerate(rows)
        for name in names
    }
    text, params = statement.bind(values)
    return dialect.first_inserted_id(connection.database.execute_sql(text, params), len(rows))


def insert_instance(instance: peewee.Model) -> int:
    """INSERT the values a model instance holds; its id."""
    return insert(type(instance), [values_of(instance)])


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
# A PUT to paid: a payment taken outside the service, of the whole total.
MARK_PAID = Statement(
    Order,
    (
        'UPDATE orders SET status = :status, version = :version + 1, updated_at = :updated_at, '
        'amount_paid = :amount_paid, payment_provider = :payment_provider, '
        'payment_reference = :payment_reference WHERE order_id = :order_id AND version = :version'
    ),
)
# A change of the order's money (a card payment, a refund that succeeded),
# with its status, in one atomic step like every change.
CHANGE_PAYMENT = Statement(
    Order,
    (
        'UPDATE orders SET status = :status, version = :version + 1, updated_at = :updated_at, '
        'amount_paid = :amount_paid, amount_refunded = :amount_refunded, '
        'payment_provider = :payment_provider, payment_reference = :payment_reference '
        'WHERE order_id = :order_id AND version = :version'
    ),
)
# A refund that succeeds within the change that asked for it (a cancellation's
# refund of a payment taken outside): that change already counts the version.
SET_REFUNDED = Statement(
    Order, ('UPDATE orders SET amount_refunded = :amount_refunded WHERE order_id = :order_id')
)
# The order's one PaymentIntent, kept by the first request that made it.
KEEP_PAYMENT_INTENT = Statement(
    Order,
    (
        'UPDATE orders SET payment_intent_id = :payment_intent_id '
        'WHERE order_id = :order_id AND payment_intent_id IS NULL'
    ),
)
# Pending orders created before :created_at, oldest id first, after a keyset
# :after (0 to start): candidates for expiry, each checked again under its lock.
PENDING_BEFORE = Statement(
    Order,
    (
        "SELECT order_id FROM orders WHERE status = 'pending' AND created_at < :created_at "
        'AND order_id > :after ORDER BY order_id LIMIT :limit'
    ),
)
DELETE_ORDER = Statement(Order, 'DELETE FROM orders WHERE order_id = :order_id')
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

COUNT_USER_ORDERS = Statement(Order, 'SELECT COUNT(*) FROM orders WHERE user_id = :user_id')
COUNT_USER_ORDERS_WITH_STATUS = Statement(
    Order, ('SELECT COUNT(*) FROM orders WHERE user_id = :user_id AND status = :status')
)

_pages: dict[tuple[bool, bool, bool, bool], Statement] = {}


def order_page(status: bool, user_id: bool, after: bool, offset: bool) -> Statement:
    """Newest first, one more row than the page holds (`:limit`): keyset
    after a cursor (`:after`), or offset for a page number (`:offset`).
    Each filter is a condition only when given."""
    key = (status, user_id, after, offset)
    if key not in _pages:
        conditions = [
            condition
            for given, condition in (
                (status, 'status = :status'),
                (user_id, 'user_id = :user_id'),
                (after, 'order_id < :after'),
            )
            if given
        ]
        where = f' WHERE {" AND ".join(conditions)}' if conditions else ''
        _pages[key] = Statement(
            Order,
            (
                f'SELECT {ORDER_COLUMNS} FROM orders{where} ORDER BY order_id DESC LIMIT :limit'
                + (' OFFSET :offset' if offset else '')
            ),
        )
    return _pages[key]


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

HAND_TO_RELAY = Statement(
    Outbox, ('UPDATE outbox SET relay_after = NULL WHERE id IN (:id) AND published_at IS NULL')
)
MARK_PUBLISHED = Statement(
    Outbox,
    (
        'UPDATE outbox SET published_at = :published_at, sns_message_id = :sns_message_id '
        'WHERE id = :id AND published_at IS NULL'
    ),
)


# The catalog.
PRODUCT_COLUMNS = column_list(Product)
PRODUCTS_IN = Statement(
    Product, (f'SELECT {PRODUCT_COLUMNS} FROM products WHERE product_id IN (:product_ids)')
)
# Ascending product_id, in one statement: every transaction that locks
# products locks them in the same order, so none waits for another in a circle.
PRODUCTS_FOR_UPDATE = Statement(
    Product,
    (
        f'SELECT {PRODUCT_COLUMNS} FROM products WHERE product_id IN (:product_ids) '
        'ORDER BY product_id'
    ),
    for_update=True,
)
PRODUCT_WITH_SKU = Statement(
    Product, ('SELECT product_id FROM products WHERE sku = :sku AND product_id <> :product_id')
)
REPLACE_PRODUCT = Statement(
    Product,
    (
        'UPDATE products SET sku = :sku, name = :name, unit_price = :unit_price, '
        'currency = :currency, active = :active, on_hand = :on_hand, version = version + 1, '
        'updated_at = :updated_at WHERE product_id = :product_id'
    ),
)
RELEASE_LINES = Statement(
    OrderItem,
    (
        'UPDATE order_items SET holds_stock = :holds_stock WHERE order_id = :order_id '
        'AND holds_stock <> :holds_stock'
    ),
)

# Repairs (make recount), while nothing else writes orders: lines of orders
# no longer open stop holding stock, and every product's `reserved` becomes
# the sum of the lines that hold it.
RELEASE_CLOSED_LINES = Statement(
    OrderItem,
    (
        'UPDATE order_items SET holds_stock = :holds_stock WHERE holds_stock <> :holds_stock '
        'AND order_id IN (SELECT order_id FROM orders WHERE status IN (:closed))'
    ),
)
RECOUNT_RESERVED = Statement(
    Product,
    (
        'UPDATE products SET reserved = (SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i '
        'WHERE i.product_id = products.product_id AND i.holds_stock = :holds_stock)'
    ),
)

_stock_moves: dict[tuple[str, int], Statement] = {}


def stock_move(kind: str, count: int) -> Statement:
    """One UPDATE moving the stock of `count` products (`:product_id_<i>`,
    `:quantity_<i>`), their rows taken in ascending product_id (the primary
    key order the IN list is read in):
    reserve:  reserved + quantity
    release:  reserved - quantity
    sell:     on_hand and reserved - quantity (on_hand never below 0; a
              product no longer tracked, on_hand NULL, stays untracked)"""
    key = (kind, count)
    if key not in _stock_moves:

        def by_product(column: str, sign: str) -> str:
            cases = ' '.join(f'WHEN :product_id_{i} THEN :quantity_{i}' for i in range(count))
            return f'{column} = {column} {sign} CASE product_id {cases} END'

        sets = {
            'reserve': by_product('reserved', '+'),
            'release': by_product('reserved', '-'),
            'sell': (
                by_product('reserved', '-')
                + ', on_hand = CASE '
                + ' '.join(
                    f'WHEN product_id = :product_id_{i} THEN CASE WHEN on_hand IS NULL '
                    f'THEN NULL WHEN on_hand > :quantity_{i} THEN on_hand - :quantity_{i} '
                    'ELSE 0 END'
                    for i in range(count)
                )
                + ' ELSE on_hand END'
            ),
        }[kind]
        ids = ', '.join(f':product_id_{i}' for i in range(count))
        _stock_moves[key] = Statement(
            Product, f'UPDATE products SET {sets} WHERE product_id IN ({ids})'
        )
    return _stock_moves[key]


def move_stock(kind: str, quantities: Mapping[int, int]) -> None:
    """quantities: {product_id: quantity}; nothing to do for none."""
    if not quantities:
        return
    values: dict[str, int] = {}
    for i, (product_id, quantity) in enumerate(sorted(quantities.items())):
        values[f'product_id_{i}'] = product_id
        values[f'quantity_{i}'] = quantity
    run(stock_move(kind, len(quantities)), **values)


_product_pages: dict[tuple[bool, bool, bool], Statement] = {}


def product_page(active: bool, after: bool, offset: bool) -> Statement:
    """Ascending product_id, one more row than the page holds (`:limit`)."""
    key = (active, after, offset)
    if key not in _product_pages:
        conditions = [
            condition
            for given, condition in ((active, 'active = :active'), (after, 'product_id > :after'))
            if given
        ]
        where = f' WHERE {" AND ".join(conditions)}' if conditions else ''
        _product_pages[key] = Statement(
            Product,
            (
                f'SELECT {PRODUCT_COLUMNS} FROM products{where} ORDER BY product_id LIMIT :limit'
                + (' OFFSET :offset' if offset else '')
            ),
        )
    return _product_pages[key]


COUNT_PRODUCTS = Statement(Product, 'SELECT COUNT(*) FROM products')
COUNT_PRODUCTS_ACTIVE = Statement(Product, 'SELECT COUNT(*) FROM products WHERE active = :active')
