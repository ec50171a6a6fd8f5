"""Several staff receiving the same return at once: several Lambda copies
(processes) on MariaDB PUT `received` on one approved return at the same
moment, some with If-Match on the version they read, some without. Exactly
one copy receives it; the others get a 409 (it is received: final) or a 412
(its version moved). Its restocked units go back to on_hand once, and one
refund is recorded and given back once (the order row, then the return row,
are locked before anything is read or written)."""

import collections

import pytest

from tests.concurrency.harness import (
    CONTEXT,
    busy_lines,
    one_worker,
    query,
    run_workers,
    summarize,
    worker_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 4
RETURNS = 3  # one race per return, one after the other
ON_HAND = 10
PRICE = '29.99'
MUGS = 2


def stock_the_mug(database):
    query(
        database,
        'INSERT INTO products (product_id, sku, name, unit_price, currency, '
        'active, on_hand, reserved, version, updated_at) VALUES '
        "(101, 'MUG-BLUE', 'Blue mug', %s, 'USD', 1, %s, 0, 1, '2030-01-01 00:00:00')",
        (PRICE, ON_HAND),
    )


def scene(env, requests, tmp_path):
    """One copy sets the scene: every request of it succeeds."""
    answers = one_worker(env, requests, tmp_path)
    assert all(answer['status'] in (200, 201) for answer in answers), answers
    return answers


def approved_returns(env, tmp_path):
    """RETURNS delivered orders of MUGS mugs each, paid outside, each with an
    approved return of all its mugs: [(order_id, return_id, order_item_id)]."""
    created = scene(
        env,
        [
            (
                'POST',
                '/orders',
                {'user_id': 1, 'items': [{'product_id': 101, 'quantity': MUGS}]},
                None,
            )
            for _ in range(RETURNS)
        ],
        tmp_path,
    )
    orders = [
        (answer['order_id'], answer['full']['items'][0]['order_item_id']) for answer in created
    ]
    scene(
        env,
        [
            ('PUT', f'/orders/{order_id}', {'status': status}, None)
            for order_id, _ in orders
            for status in ('paid', 'shipped', 'delivered')
        ],
        tmp_path,
    )
    opened = scene(
        env,
        [
            (
                'POST',
                f'/orders/{order_id}/returns',
                {'items': [{'order_item_id': item_id, 'quantity': MUGS}]},
                None,
            )
            for order_id, item_id in orders
        ],
        tmp_path,
    )
    returns = [
        (order_id, answer['full']['return_id'], item_id)
        for (order_id, item_id), answer in zip(orders, opened, strict=True)
    ]
    scene(
        env,
        [
            ('PUT', f'/orders/{order_id}/returns/{return_id}', {'status': 'approved'}, None)
            for order_id, return_id, _ in returns
        ],
        tmp_path,
    )
    return returns


def receipt(order_id, return_id, item_id, index):
    """Even copies send If-Match on the version they read (2), odd ones none."""
    body = {
        'status': 'received',
        'items': [{'order_item_id': item_id, 'received': MUGS, 'restock': True}],
    }
    headers = {'If-Match': '"2"'} if index % 2 == 0 else None
    return ('PUT', f'/orders/{order_id}/returns/{return_id}', body, headers)


def test_copies_receiving_one_return_at_once_move_its_stock_and_money_once(
    fresh_database, tmp_path
):
    stock_the_mug(fresh_database)
    env = worker_env(fresh_database, tmp_path)
    returns = approved_returns(env, tmp_path)
    [(before,)] = query(fresh_database, 'SELECT on_hand FROM products WHERE product_id = 101')

    barrier = CONTEXT.Barrier(PROCESSES)
    outcomes = run_workers(
        'requests_at_once',
        env,
        [
            dict(
                requests=[
                    {i: receipt(*returned, i) for i in range(PROCESSES)} for returned in returns
                ],
                barrier=barrier,
            )
            for _ in range(PROCESSES)
        ],
        tmp_path,
        timeout=120,
    )

    answers = [answer for outcome in outcomes for answer in outcome]
    by_return = collections.defaultdict(list)
    for answer in answers:
        by_return[answer['path']].append(answer['status'])
    statuses = collections.Counter(answer['status'] for answer in answers)
    assert set(statuses) <= {200, 409, 412}, statuses
    assert all(sorted(seen).count(200) == 1 for seen in by_return.values()), by_return
    [(after,)] = query(fresh_database, 'SELECT on_hand FROM products WHERE product_id = 101')
    assert after == before + RETURNS * MUGS == ON_HAND
    for order_id, return_id, _ in returns:
        assert query(
            fresh_database,
            'SELECT COUNT(*), CAST(SUM(amount) AS CHAR) FROM refunds WHERE order_id = %s',
            (order_id,),
        ) == ((1, '59.98'),)
        assert query(
            fresh_database,
            'SELECT status, version, CAST(amount_refunded AS CHAR) FROM orders WHERE order_id = %s',
            (order_id,),
        ) == (('delivered', 5, '59.98'),)
        assert query(
            fresh_database,
            'SELECT status, version FROM returns WHERE return_id = %s',
            (return_id,),
        ) == (('received', 3),)
        assert query(
            fresh_database,
            "SELECT COUNT(*) FROM outbox WHERE order_id = %s AND event_type = 'return_received'",
            (order_id,),
        ) == ((1,),)
    assert busy_lines(tmp_path, 'requests_at_once') == []
    summarize(
        'several copies receive one return at once',
        answers,
        processes=PROCESSES,
        returns_raced=RETURNS,
        answered_200=statuses[200],
        answered_409=statuses[409],
        answered_412=statuses[412],
        on_hand_before=before,
        on_hand_after=after,
        refunds=query(fresh_database, 'SELECT COUNT(*) FROM refunds')[0][0],
    )
