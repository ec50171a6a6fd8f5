"""An order paid while expire_unpaid runs is never expired: copies paying
old pending orders race on MariaDB with copies of the scheduled function
expiring them. Each order ends either paid (and never cancelled) or
cancelled as not paid in time (and its payment refused with a 409), one
event and one history entry for the change, and its stock back when expired."""

import collections

import pytest

from tests.concurrency.harness import CONTEXT, query, run_workers, summarize, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

ORDERS = 60
PAYERS = 2
EXPIRERS = 2
PRODUCT = 7


def old_pending_orders(database):
    """ORDERS pending orders placed two hours ago, each holding one unit of a
    tracked product, as the service would have written them."""
    query(
        database,
        'INSERT INTO products (product_id, sku, name, unit_price, currency, active, '
        "on_hand, reserved, version, updated_at) VALUES (%s, 'P', 'P', '5.00', "
        "'USD', 1, 1000, %s, 1, '2030-01-01 00:00:00')",
        (PRODUCT, ORDERS),
    )
    for order_id in range(1, ORDERS + 1):
        query(
            database,
            'INSERT INTO orders (order_id, user_id, user_email, status, order_total, '
            'created_at, updated_at, version, currency) VALUES (%s, 1, NULL, '
            "'pending', '5.00', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, "
            "UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, 1, 'USD')",
            (order_id,),
        )
        query(
            database,
            'INSERT INTO order_items (order_id, product_id, quantity, '
            "price_at_order, holds_stock) VALUES (%s, %s, 1, '5.00', 1)",
            (order_id, PRODUCT),
        )
        query(
            database,
            'INSERT INTO order_history (order_id, version, status, at) '
            "VALUES (%s, 1, 'pending', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR)",
            (order_id,),
        )


def test_an_order_paid_while_expiry_runs_is_never_expired(fresh_database, tmp_path):
    old_pending_orders(fresh_database)
    barrier = CONTEXT.Barrier(PAYERS + EXPIRERS)
    ids = list(range(1, ORDERS + 1))
    params = [
        dict(task='pay_orders', order_ids=ids[i::PAYERS], barrier=barrier) for i in range(PAYERS)
    ] + [dict(task='expire_repeatedly', barrier=barrier, runs=3) for _ in range(EXPIRERS)]

    outcomes = run_workers(
        'pay_orders', worker_env(fresh_database, tmp_path), params, tmp_path, timeout=120
    )

    payments = [answer for outcome in outcomes[:PAYERS] for answer in outcome]
    expired = sum(sum(runs) for runs in outcomes[PAYERS:])
    paid_ok = {a['id'] for a in payments if a['status'] == 200}
    refused = {a['id'] for a in payments if a['status'] == 409}
    assert paid_ok | refused == set(ids) and not paid_ok & refused
    statuses = dict(query(fresh_database, 'SELECT order_id, status FROM orders'))
    assert {i for i, status in statuses.items() if status == 'paid'} == paid_ok
    assert {i for i, status in statuses.items() if status == 'cancelled'} == refused
    assert expired == len(refused)
    history = collections.defaultdict(list)
    for order_id, status, role, reason in query(
        fresh_database,
        'SELECT order_id, status, actor_role, reason FROM order_history '
        'WHERE version > 1 ORDER BY order_id, version',
    ):
        history[order_id].append((status, role, reason))
    assert all(history[i] == [('paid', 'staff', None)] for i in paid_ok)
    assert all(history[i] == [('cancelled', 'system', 'not paid in time')] for i in refused)
    events = collections.Counter(query(fresh_database, 'SELECT order_id, event_type FROM outbox'))
    assert all(events[(i, 'order_updated')] == 1 for i in paid_ok)
    assert all(events[(i, 'order_cancelled')] == 1 for i in refused)
    [(reserved,)] = query(
        fresh_database, 'SELECT reserved FROM products WHERE product_id = %s', (PRODUCT,)
    )
    assert reserved == len(paid_ok)
    summarize('pay while expiring', payments, paid=len(paid_ok), expired=len(refused))
