"""MAX_PENDING_ORDERS_PER_CUSTOMER holds with several copies at once:
Lambda copies (processes) all create orders for one customer at the same
moment, round after round, on MariaDB. Exactly the limit is placed, every
other create is the 409, and no copy met a deadlock or a 503."""

import collections

import pytest

from tests.concurrency.harness import CONTEXT, _issuer, query, run_workers, summarize, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 4
ROUNDS = 3
LIMIT = 3
CUSTOMER = 77


def test_copies_creating_for_one_customer_at_once_never_pass_the_limit(fresh_database, tmp_path):
    query(
        fresh_database,
        'INSERT INTO products (product_id, sku, name, unit_price, currency, active, '
        "on_hand, reserved, version, updated_at) VALUES (1, 'MUG', 'Mug', '4.50', 'USD', 1, "
        "NULL, 0, 1, '2030-01-01 00:00:00')",
    )
    customer = {'Authorization': f'Bearer {_issuer().mint(user_id=CUSTOMER)}'}
    create = ('POST', '/orders', {'items': [{'product_id': 1, 'quantity': 1}]}, customer)

    barrier = CONTEXT.Barrier(PROCESSES)

    outcomes = run_workers(
        'requests_at_once',
        worker_env(fresh_database, tmp_path, MAX_PENDING_ORDERS_PER_CUSTOMER=str(LIMIT)),
        [dict(requests=[create] * ROUNDS, barrier=barrier) for _ in range(PROCESSES)],
        tmp_path,
        timeout=120,
    )

    answers = [answer for outcome in outcomes for answer in outcome]
    statuses = collections.Counter(answer['status'] for answer in answers)
    assert statuses == {201: LIMIT, 409: PROCESSES * ROUNDS - LIMIT}, statuses
    assert {answer['message'] for answer in answers if answer['status'] == 409} == {
        'Pay for or cancel an open order first.'
    }
    [(pending,)] = query(
        fresh_database,
        "SELECT COUNT(*) FROM orders WHERE user_id = %s AND status = 'pending'",
        (CUSTOMER,),
    )
    assert pending == LIMIT
    summarize('pending limit race', answers, processes=PROCESSES, placed=statuses[201])
