"""GET /users/{user_id}/orders/export: one user's orders as CSV, newest first,
between two UTC dates, under the list's access rules; on SQLite and MariaDB.
Creation times are set in the database, so nothing here depends on today."""

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest

from chalicelib.orders import export
from chalicelib.storage.connection import database
from chalicelib.storage.models import Order
from tests.support import bearer, create_order, json_of, send

ADA, BOB = 1, 2
HEADER = [
    'order_id',
    'created_at',
    'status',
    'order_total',
    'currency',
    'product_id',
    'sku',
    'quantity',
    'price_at_order',
    'line_discount',
    'line_tax',
    'shipping_total',
    'tax_total',
]

# line_discount, line_tax, shipping_total, tax_total of an order with none.
NOTHING_BESIDE = ['0.00'] * 4


def export_of(client, user_id=ADA, headers=None, **query):
    path = f'/users/{user_id}/orders/export'
    if query:
        path += '?' + '&'.join(f'{name}={value}' for name, value in query.items())
    return client.http.request('GET', path, headers=headers or {})


def rows_of(response):
    assert response.status_code == 200, response.body
    text = response.body.decode('utf-8')
    rows = list(csv.reader(io.StringIO(text, newline='')))
    assert rows[0] == HEADER
    return rows[1:]


def created_at(order_id, moment):
    Order.update(created_at=moment).where(Order.order_id == order_id).execute()


def bulk_orders(user_id, count, moment=datetime(2026, 3, 1, 12, 0)):
    """`count` orders without items, written behind the service's back."""
    rows = [
        {
            'user_id': user_id,
            'status': 'pending',
            'order_total': Decimal('1.00'),
            'created_at': moment,
            'updated_at': moment,
            'version': 1,
        }
    ] * count
    with database.atomic():
        for start in range(0, count, 1000):
            Order.insert_many(rows[start : start + 1000]).execute()


def test_export_is_csv_with_a_header_and_a_row_per_item_newest_order_first(client):
    first = create_order(client, user_id=ADA)
    second = create_order(
        client,
        user_id=ADA,
        items=[{'product_id': 7, 'quantity': 3, 'price_at_order': Decimal('0.10')}],
    )
    create_order(client, user_id=BOB)

    response = export_of(client)

    assert response.headers['Content-Type'].split(';')[0] == 'text/csv'
    assert response.headers['Content-Disposition'] == 'attachment; filename="orders-1.csv"'
    text = response.body.decode('utf-8')
    assert text.count('\r\n') == 4 and '\n' not in text.replace('\r\n', '')
    assert rows_of(response) == [
        [
            str(second['order_id']),
            second['created_at'],
            'pending',
            '0.30',
            'USD',
            '7',
            '',
            '3',
            '0.10',
            *NOTHING_BESIDE,
        ],
        [
            str(first['order_id']),
            first['created_at'],
            'pending',
            '109.97',
            'USD',
            '101',
            '',
            '2',
            '29.99',
            *NOTHING_BESIDE,
        ],
        [
            str(first['order_id']),
            first['created_at'],
            'pending',
            '109.97',
            'USD',
            '102',
            '',
            '1',
            '49.99',
            *NOTHING_BESIDE,
        ],
    ]


def test_export_of_a_user_without_orders_is_the_header_alone(client):
    response = export_of(client, user_id=42)

    assert rows_of(response) == []
    assert response.headers['Content-Disposition'] == 'attachment; filename="orders-42.csv"'


def test_export_shows_each_order_as_it_is_now(client):
    order = create_order(client, user_id=ADA)
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'paid'})

    assert {row[2] for row in rows_of(export_of(client))} == {'paid'}


def test_export_dates_are_inclusive_from_midnight_to_midnight_utc(client):
    ids = {}
    for name, moment in (
        ('day_before', datetime(2026, 1, 31, 23, 59, 59, 999999)),
        ('first_instant', datetime(2026, 2, 1, 0, 0, 0)),
        ('last_instant', datetime(2026, 2, 28, 23, 59, 59, 999999)),
        ('day_after', datetime(2026, 3, 1, 0, 0, 0)),
    ):
        ids[name] = str(create_order(client, user_id=ADA)['order_id'])
        created_at(ids[name], moment)

    def exported(**query):
        return [row[0] for row in rows_of(export_of(client, **query))][::2]

    assert exported(**{'from': '2026-02-01', 'to': '2026-02-28'}) == [
        ids['last_instant'],
        ids['first_instant'],
    ]
    assert exported(**{'from': '2026-02-01'}) == [
        ids['day_after'],
        ids['last_instant'],
        ids['first_instant'],
    ]
    assert exported(to='2026-02-28') == [
        ids['last_instant'],
        ids['first_instant'],
        ids['day_before'],
    ]
    assert exported(**{'from': '2026-03-01', 'to': '2026-03-01'}) == [ids['day_after']]
    assert exported(**{'from': '2026-01-31', 'to': '2026-01-31'}) == [ids['day_before']]
    assert [row[1] for row in rows_of(export_of(client, to='2026-01-31'))] == [
        '2026-01-31T23:59:59.999999Z'
    ] * 2


def test_export_reads_in_chunks_and_misses_no_order(client, monkeypatch):
    monkeypatch.setattr(export, 'CHUNK_ORDERS', 2)
    made = [
        create_order(
            client,
            user_id=ADA,
            items=[
                {'product_id': n, 'quantity': 1, 'price_at_order': 1},
                {'product_id': n + 100, 'quantity': 2, 'price_at_order': 2},
            ],
        )
        for n in range(1, 6)
    ]
    create_order(client, user_id=BOB)

    rows = rows_of(export_of(client))

    assert [(row[0], row[5]) for row in rows] == [
        (str(order['order_id']), str(product))
        for order in reversed(made)
        for product in (order['items'][0]['product_id'], order['items'][1]['product_id'])
    ]


def test_a_cell_the_database_holds_as_a_formula_is_exported_as_text(client):
    order = create_order(client, user_id=ADA)
    formula = "=cmd|' /C calc'!A0"
    Order.update(status=formula).where(Order.order_id == order['order_id']).execute()

    rows = rows_of(export_of(client))

    assert {row[2] for row in rows} == {"'" + formula}


def test_more_than_10000_orders_is_a_413_saying_to_narrow_the_dates(client):
    bulk_orders(ADA, export.MAX_ORDERS, datetime(2026, 3, 1, 12, 0))
    bulk_orders(ADA, 1, datetime(2026, 2, 1, 12, 0))

    response = export_of(client)

    assert response.status_code == 413
    error = json_of(response)
    assert error['Code'] == 'RequestEntityTooLargeError'
    assert 'narrow the dates' in error['Message'] and '10000' in error['Message']
    # The same orders in two parts fit.
    assert export_of(client, to='2026-02-28').status_code == 200
    assert export_of(client, **{'from': '2026-03-01'}).status_code == 200


def test_an_export_longer_than_one_answer_may_be_is_a_413(client, monkeypatch):
    create_order(client, user_id=ADA)
    monkeypatch.setattr(export, 'MAX_CHARS', 100)

    response = export_of(client)

    assert response.status_code == 413
    assert 'narrow the dates' in json_of(response)['Message']


@pytest.mark.parametrize(
    'query, field',
    [
        ({'from': '2026-02-30'}, 'from'),
        ({'to': '01/02/2026'}, 'to'),
        ({'from': '2026-03-01', 'to': '2026-02-01'}, 'from'),
        ({'page': '1'}, 'page'),
    ],
)
def test_bad_dates_are_a_400_in_the_error_shape(client, query, field):
    response = export_of(client, **query)

    assert response.status_code == 400
    error = json_of(response)
    assert error['Code'] == 'BadRequestError' and list(error['errors']) == [field]


@pytest.mark.parametrize('user_id', ['0', 'abc', str(2**63)])
def test_a_bad_user_id_is_a_400(client, user_id):
    response = export_of(client, user_id=user_id)

    assert response.status_code == 400 and list(json_of(response)['errors']) == ['user_id']


def test_a_customer_exports_their_own_orders_and_no_one_elses(client, issuer):
    create_order(client, user_id=ADA)
    create_order(client, user_id=BOB)
    ada = bearer(issuer.mint(user_id=ADA, email='ada@example.com'))

    own = export_of(client, ADA, ada)
    other = export_of(client, BOB, ada)

    assert len(rows_of(own)) == 2
    assert other.status_code == 403 and json_of(other)['Code'] == 'ForbiddenError'


def test_service_and_staff_export_anyones_orders(client, issuer):
    create_order(client, user_id=BOB)

    for caller in (issuer.mint(role='service'), issuer.mint(role='staff')):
        assert len(rows_of(export_of(client, BOB, bearer(caller)))) == 2


def test_export_needs_a_token(client):
    response = export_of(client, headers={'Authorization': None})

    assert response.status_code == 401
