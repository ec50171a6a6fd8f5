"""Stock is never oversold: several Lambda copies (processes) race on
MariaDB for the last units of tracked products, with multi-product orders
naming the products in opposite orders, while some orders are cancelled as
soon as they are placed. Afterwards every product's `reserved` equals what
the open orders' lines hold and is never more than `on_hand`, and no copy
met a deadlock (rows are locked in ascending product_id)."""

import collections

import pytest

from tests.concurrency.harness import CONTEXT, busy_lines, query, run_workers, summarize, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 4
ORDERS_EACH = 12
# (product_id, on_hand): far fewer units than the copies ask for.
STOCK = {1: 10, 2: 12, 3: 5}
PRICE = '4.50'


def stock_the_catalog(database):
    for product_id, on_hand in STOCK.items():
        query(
            database,
            'INSERT INTO products (product_id, sku, name, unit_price, currency, '
            'active, on_hand, reserved, version, updated_at) VALUES '
            '(%s, %s, %s, %s, %s, 1, %s, 0, 1, %s)',
            (
                product_id,
                f'SKU-{product_id}',
                f'Product {product_id}',
                PRICE,
                'USD',
                on_hand,
                '2030-01-01 00:00:00',
            ),
        )


def orders_of(index):
    """Even copies name product 1 before 2, odd ones 2 before 1; every third
    order also takes two of product 3."""
    first, second = (1, 2) if index % 2 == 0 else (2, 1)
    return [
        [(first, 1), (second, 1)] + ([(3, 2)] if n % 3 == 0 else []) for n in range(ORDERS_EACH)
    ]


def test_racing_copies_never_oversell_and_never_deadlock(fresh_database, tmp_path):
    stock_the_catalog(fresh_database)
    barrier = CONTEXT.Barrier(PROCESSES)
    workers_env = worker_env(fresh_database, tmp_path)

    outcomes = run_workers(
        'race_for_stock',
        workers_env,
        [
            dict(orders=orders_of(index), barrier=barrier, cancel_every=3)
            for index in range(PROCESSES)
        ],
        tmp_path,
        timeout=120,
    )

    answers = [answer for outcome in outcomes for answer in outcome]
    creates = [a for a in answers if a['kind'] == 'create']
    cancels = [a for a in answers if a['kind'] == 'cancel']
    statuses = collections.Counter(a['status'] for a in creates)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[409] > 0  # the copies asked for more than there was
    refused = [a for a in creates if a['status'] == 409]
    assert all(a['code'] == 'ConflictError' and 'available' in str(a['errors']) for a in refused)
    assert {a['status'] for a in cancels} <= {200}

    products = {
        product_id: (on_hand, reserved)
        for product_id, on_hand, reserved in query(
            fresh_database, 'SELECT product_id, on_hand, reserved FROM products'
        )
    }
    held = {
        product_id: int(quantity)
        for product_id, quantity in query(
            fresh_database,
            'SELECT product_id, SUM(quantity) FROM order_items '
            'WHERE holds_stock = 1 GROUP BY product_id',
        )
    }
    open_orders = {
        product_id: int(quantity)
        for product_id, quantity in query(
            fresh_database,
            'SELECT i.product_id, SUM(i.quantity) FROM order_items i JOIN orders o '
            "ON o.order_id = i.order_id WHERE o.status = 'pending' "
            'GROUP BY i.product_id',
        )
    }
    for product_id, (on_hand, reserved) in products.items():
        assert on_hand == STOCK[product_id]
        assert reserved == held.get(product_id, 0) == open_orders.get(product_id, 0)
        assert reserved <= on_hand
    assert busy_lines(tmp_path, 'race_for_stock') == []
    summarize(
        'race for stock',
        creates,
        processes=PROCESSES,
        orders_tried=len(creates),
        placed=statuses[201],
        refused_for_stock=statuses[409],
        cancelled=len(cancels),
        reserved={p: r for p, (_, r) in products.items()},
        held=held,
        on_hand={p: o for p, (o, _) in products.items()},
    )
