"""A discount code is never used past its limit: several Lambda copies
(processes) race on MariaDB for the last uses of one code, with orders that
also reserve tracked stock (the code's row is locked after the product rows)
and some cancelled as soon as they are placed, giving their use back while
the others still race for it. Afterwards the code's count equals the orders
that hold a use, never more than its limit, and no copy met a deadlock."""

import collections

import pytest

from tests.concurrency.harness import CONTEXT, busy_lines, query, run_workers, summarize, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 4
ORDERS_EACH = 8
USAGE_LIMIT = 9
CODE = 'LAST9'


def stock_and_code(database):
    for product_id in (1, 2):
        query(
            database,
            'INSERT INTO products (product_id, sku, name, unit_price, currency, active, '
            'on_hand, reserved, version, updated_at, tax_class) VALUES '
            "(%s, %s, %s, '10.00', 'USD', 1, 1000, 0, 1, '2030-01-01 00:00:00', 'standard')",
            (product_id, f'SKU-{product_id}', f'Product {product_id}'),
        )
    query(
        database,
        'INSERT INTO discounts (code, type, value, active, usage_limit, times_used, version, '
        "updated_at) VALUES (%s, 'percent', '10.00', 1, %s, 0, 1, '2030-01-01 00:00:00')",
        (CODE, USAGE_LIMIT),
    )


def holding_after(database):
    [(holding,)] = query(
        database,
        "SELECT COUNT(*) FROM orders WHERE discount_code = %s AND status <> 'cancelled'",
        (CODE,),
    )
    return holding


def orders_of(index):
    """Even copies name product 1 before 2, odd ones 2 before 1."""
    first, second = (1, 2) if index % 2 == 0 else (2, 1)
    return [[(first, 1), (second, 1)] for _ in range(ORDERS_EACH)]


def test_racing_copies_never_use_a_code_past_its_limit_and_never_deadlock(fresh_database, tmp_path):
    stock_and_code(fresh_database)
    barrier = CONTEXT.Barrier(PROCESSES)

    outcomes = run_workers(
        'race_for_stock',
        worker_env(fresh_database, tmp_path),
        [
            dict(
                orders=orders_of(index),
                barrier=barrier,
                cancel_every=3,
                extra={'discount_code': CODE},
            )
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
    assert statuses[409] > 0  # the copies asked for more uses than there were
    refused = [a for a in creates if a['status'] == 409]
    assert all(a['errors'] == {'discount_code': ['This code has been used up.']} for a in refused)
    assert {a['status'] for a in cancels} <= {200}
    # Every placed order holds a use but those cancelled, which gave theirs back.
    assert statuses[201] - len(cancels) == holding_after(fresh_database)
    [(times_used,)] = query(
        fresh_database, 'SELECT times_used FROM discounts WHERE code = %s', (CODE,)
    )
    [(uses,)] = query(fresh_database, 'SELECT COUNT(*) FROM discount_uses WHERE code = %s', (CODE,))
    assert times_used == uses == holding_after(fresh_database) <= USAGE_LIMIT
    assert busy_lines(tmp_path, 'race_for_stock') == []
    summarize(
        'race for the last uses of a code',
        creates,
        processes=PROCESSES,
        orders_tried=len(creates),
        placed=statuses[201],
        refused_used_up=statuses[409],
        cancelled=len(cancels),
        times_used=times_used,
        usage_limit=USAGE_LIMIT,
    )
