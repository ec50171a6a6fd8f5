"""MAX_PENDING_ORDERS_PER_CUSTOMER: a customer holding that many `pending`
orders is refused the next one (409) until one is paid or cancelled; staff
are not limited. Over HTTP on SQLite and MariaDB
(tests/concurrency/test_pending_limit_race.py: many copies at once)."""

from decimal import Decimal

import pytest

from chalicelib.platform.config import get_settings
from tests.support import json_of, put_product, send

ADA = 1
LIMIT = 2


@pytest.fixture
def ada(issuer):
    return {'Authorization': f'Bearer {issuer.mint(user_id=ADA, email="ada@example.com")}'}


@pytest.fixture
def shop(client, monkeypatch):
    monkeypatch.setenv('MAX_PENDING_ORDERS_PER_CUSTOMER', str(LIMIT))
    get_settings.cache_clear()
    put_product(client, 101, name='Blue mug', unit_price=Decimal('29.99'), currency='USD')


def place(client, headers=None, user_id=None):
    body = {'items': [{'product_id': 101, 'quantity': 1}]}
    if user_id is not None:
        body['user_id'] = user_id
    return send(client, 'POST', '/orders', body, headers)


def pending_of(client, user_id):
    answer = send(client, 'GET', f'/orders?user_id={user_id}&status=pending')
    return json_of(answer)['total']


def test_one_pending_order_too_many_is_a_409_and_creates_nothing(client, shop, ada):
    for _ in range(LIMIT):
        assert place(client, ada).status_code == 201

    refused = place(client, ada)

    assert refused.status_code == 409
    assert json_of(refused) == {
        'Code': 'ConflictError',
        'Message': 'Pay for or cancel an open order first.',
    }
    assert pending_of(client, ADA) == LIMIT


@pytest.mark.parametrize('status', ['cancelled', 'paid'])
def test_an_order_paid_or_cancelled_makes_room_for_the_next(client, shop, ada, status):
    first = json_of(place(client, ada))
    place(client, ada)

    send(client, 'PUT', f'/orders/{first["order_id"]}', {'status': status})

    assert place(client, ada).status_code == 201


def test_staff_are_not_limited_and_their_orders_count_for_the_customer(client, shop, ada):
    for _ in range(LIMIT + 1):
        assert place(client, user_id=ADA).status_code == 201

    assert place(client, ada).status_code == 409


def test_other_customers_are_not_held_back_by_one(client, shop, ada, issuer):
    for _ in range(LIMIT):
        place(client, ada)
    bob = {'Authorization': f'Bearer {issuer.mint(user_id=2)}'}

    assert place(client, bob).status_code == 201


def test_a_limit_of_0_means_no_limit(client, shop, ada, monkeypatch):
    monkeypatch.setenv('MAX_PENDING_ORDERS_PER_CUSTOMER', '0')
    get_settings.cache_clear()

    assert [place(client, ada).status_code for _ in range(LIMIT + 2)] == [201] * (LIMIT + 2)


def test_the_customers_lock_is_the_first_statement_of_the_create(client, shop, ada, executed_sql):
    """Taken before any read, so that the count's snapshot (MariaDB's
    REPEATABLE READ) is no older than the lock: it sees every order a copy
    committed while this one waited."""
    executed_sql.clear()

    assert place(client, ada).status_code == 201

    statements = [sql for sql in executed_sql if not sql.startswith(('SELECT 1', 'SET '))]
    [lock] = [i for i, sql in enumerate(statements) if 'customer_locks' in sql]
    assert statements[lock - 1].upper().startswith('BEGIN')
    assert statements[lock].startswith(f'INSERT INTO customer_locks (user_id) VALUES ({ADA})')
    assert statements[lock + 1].startswith(f'SELECT COUNT(*) FROM orders WHERE user_id = {ADA} AND')
