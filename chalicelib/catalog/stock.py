"""Stock: reservations, their release and the sale, always inside the
transaction of the order change that causes them.

`reserved` of a product is the sum of the quantities of the order lines that
hold stock (order_items.holds_stock): a line starts holding when its order is
created (tracked products only) and stops when the order is cancelled,
deleted or shipped, in the same transaction that moves `reserved`.

Locks: product rows are the last rows any transaction locks, in ascending
product_id (PRODUCTS_FOR_UPDATE, and the UPDATEs of move_stock
that take their rows in primary-key order). A transaction holding a product
row therefore never waits for anything but another product row of higher id,
so no circle of waits can form, and a row stays locked only from that
statement to the commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.catalog import queries
from chalicelib.catalog.stock_rules import Stocked, shortages
from chalicelib.core.errors import OutOfStock
from chalicelib.storage import statements


def lock(product_ids: Iterable[int]) -> dict[int, Any]:
    """The current rows, locked until the transaction ends (on SQLite the
    transaction already holds the database's write lock)."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    return {
        row.product_id: row
        for row in statements.fetch(queries.PRODUCTS_FOR_UPDATE, product_ids=ids)
    }


def reserve(wanted: Sequence[tuple[int, int, int]], locked: Mapping[int, Stocked]) -> None:
    """Reserve the wanted quantities of the locked products, or raise
    OutOfStock naming every item short of stock (nothing is reserved)."""
    short = shortages(wanted, locked)
    if short:
        raise OutOfStock(errors={'items': short})
    quantities: dict[int, int] = defaultdict(int)
    for _, product_id, quantity in wanted:
        quantities[product_id] += quantity
    move_stock('reserve', quantities)


def release(order_id: int, quantities: Mapping[int, int]) -> None:
    """The order's lines stop holding stock, and their products' `reserved` drops."""
    if quantities:
        statements.run(queries.RELEASE_LINES, order_id=order_id, holds_stock=False)
        move_stock('release', quantities)


def sell(order_id: int, quantities: Mapping[int, int]) -> None:
    """Shipped: the reservation becomes a sale (on_hand and reserved both drop)."""
    if quantities:
        statements.run(queries.RELEASE_LINES, order_id=order_id, holds_stock=False)
        move_stock('sell', quantities)


def restock(quantities: Mapping[int, int]) -> None:
    """Goods that came back (a return received) go back on the shelf:
    on_hand rises, for tracked products only. Product rows are locked last,
    in ascending product_id, like every other stock move."""
    move_stock('restock', quantities)


def recount_reserved() -> None:
    """Every product's `reserved` made the sum of the lines holding it (after
    a repair; while nothing else writes orders)."""
    statements.run(queries.RECOUNT_RESERVED, holds_stock=True)


def move_stock(kind: str, quantities: Mapping[int, int]) -> None:
    """quantities: {product_id: quantity}; nothing to do for none."""
    if not quantities:
        return
    values: dict[str, int] = {}
    for i, (product_id, quantity) in enumerate(sorted(quantities.items())):
        values[f'product_id_{i}'] = product_id
        values[f'quantity_{i}'] = quantity
    statements.run(queries.stock_move(kind, len(quantities)), **values)
