"""The catalog's SQL: products read, locked, written and listed, and the
stock moves of their reservations. Bound and run by storage/statements.py."""

from __future__ import annotations

from chalicelib.storage.model_rows import column_list
from chalicelib.storage.models import OrderItem, Product
from chalicelib.storage.statements import KeysetPages, Statement

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
        'tax_class = :tax_class, updated_at = :updated_at WHERE product_id = :product_id'
    ),
)
RELEASE_LINES = Statement(
    OrderItem,
    (
        'UPDATE order_items SET holds_stock = :holds_stock WHERE order_id = :order_id '
        'AND holds_stock <> :holds_stock'
    ),
)

# Repairs (make recount), while nothing else writes orders: every product's
# `reserved` becomes the sum of the lines that hold it.
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
              product no longer tracked, on_hand NULL, stays untracked)
    restock:  on_hand + quantity (goods a return brought back; an untracked
              product stays untracked)"""
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
            'restock': (
                'on_hand = CASE '
                + ' '.join(
                    f'WHEN product_id = :product_id_{i} THEN CASE WHEN on_hand IS NULL '
                    f'THEN NULL ELSE on_hand + :quantity_{i} END'
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


# The product list, ascending product_id.
PRODUCT_PAGES = KeysetPages(Product, 'product_id', descending=False, filters=('active',))


COUNT_PRODUCTS = Statement(Product, 'SELECT COUNT(*) FROM products')
COUNT_PRODUCTS_ACTIVE = Statement(Product, 'SELECT COUNT(*) FROM products WHERE active = :active')
