"""Concurrency of address changes, with several Lambda copies (processes) on
MariaDB: copies moving the same orders at once, each with the same If-Match
and its own destination, taxed differently. Exactly one wins per order; the
order keeps the winner's address with the tax of that destination on every
line, its totals add up from its lines, and it has one version, one history
entry and one event for the change."""

import collections
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.concurrency.harness import CONTEXT, one_worker, query, run_workers, summarize, worker_env
from tests.support import ILLINOIS

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 4
ORDERS = 6
OREGON = {**ILLINOIS, 'city': 'Portland', 'region': 'OR', 'postal_code': '97201'}
# One destination per copy: two taxed at 6.25 %, two not taxed.
DESTINATIONS = [
    ILLINOIS,
    {**OREGON, 'line1': '1 Pine St'},
    {**ILLINOIS, 'line1': '1 N State St', 'city': 'Chicago', 'postal_code': '60602'},
    {
        'name': 'Ada Lovelace',
        'line1': '1 Front St W',
        'city': 'Toronto',
        'region': 'ON',
        'postal_code': 'M5J 2X5',
        'country': 'CA',
    },
]


def test_copies_moving_one_order_at_once_with_one_if_match_leave_one_consistent_move(
    fresh_database, tmp_path
):
    env = worker_env(fresh_database, tmp_path)
    body = {
        'user_id': 77,
        'items': [
            {'product_id': 101, 'quantity': 2, 'price_at_order': 29.99},
            {'product_id': 102, 'quantity': 1, 'price_at_order': 49.99},
        ],
        'shipping_address': OREGON,
    }
    tax = {'name': 'Illinois', 'rates': {'standard': 0.0625}, 'shipping': True}
    setup = one_worker(
        env,
        [('PUT', '/tax-rates/US-IL', tax, None)]
        + [('POST', '/orders', body, None) for _ in range(ORDERS)],
        tmp_path,
    )
    order_ids = [answer['order_id'] for answer in setup[1:]]
    assert [answer['status'] for answer in setup] == [201] * (ORDERS + 1)

    requests = [
        {
            index: (
                'PUT',
                f'/orders/{order_id}',
                {'shipping_address': DESTINATIONS[index]},
                {'If-Match': '"1"'},
            )
            for index in range(PROCESSES)
        }
        for order_id in order_ids
    ]
    barrier = CONTEXT.Barrier(PROCESSES)
    outcomes = run_workers(
        'requests_at_once',
        env,
        [dict(requests=requests, barrier=barrier) for _ in range(PROCESSES)],
        tmp_path,
    )

    answers = [answer for outcome in outcomes for answer in outcome]
    assert collections.Counter(answer['status'] for answer in answers) == {
        200: ORDERS,
        412: ORDERS * (PROCESSES - 1),
    }
    for order_id in order_ids:
        [winner] = [
            index
            for index, outcome in enumerate(outcomes)
            for answer in outcome
            if answer['path'] == f'/orders/{order_id}' and answer['status'] == 200
        ]
        rate = Decimal('0.0625') if DESTINATIONS[winner]['region'] == 'IL' else Decimal(0)
        [(version, city, subtotal, tax_total, shipping_tax, total)] = query(
            fresh_database,
            'SELECT version, JSON_VALUE(shipping_address, "$.city"), subtotal, tax_total, '
            'shipping_tax, order_total FROM orders WHERE order_id = %s',
            (order_id,),
        )
        lines = query(
            fresh_database,
            'SELECT tax, tax_rate, quantity * price_at_order - discount FROM order_items '
            'WHERE order_id = %s ORDER BY order_item_id',
            (order_id,),
        )
        assert (version, city) == (2, DESTINATIONS[winner]['city'])
        assert [(line_tax, line_rate) for line_tax, line_rate, _ in lines] == [
            ((net * rate).quantize(Decimal('0.01'), ROUND_HALF_UP), rate) for _, _, net in lines
        ]
        assert tax_total == sum(line_tax for line_tax, _, _ in lines) + shipping_tax
        assert total == subtotal + tax_total
        assert query(
            fresh_database,
            'SELECT version, actor_role, reason FROM order_history WHERE order_id = %s '
            'ORDER BY version',
            (order_id,),
        ) == ((1, 'staff', None), (2, 'staff', 'Shipping address changed'))
        assert query(
            fresh_database,
            'SELECT event_type FROM outbox WHERE order_id = %s ORDER BY id',
            (order_id,),
        ) == (('order_created',), ('order_updated',))
    summarize(
        'address changes at once, one If-Match',
        answers,
        processes=PROCESSES,
        orders=ORDERS,
        winners=ORDERS,
    )
