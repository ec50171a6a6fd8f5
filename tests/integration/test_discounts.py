"""Discount codes (PUT/GET /discounts) and orders that carry one: when a code
applies, how totals.py allocates it, and how uses are counted and given back.
Over HTTP on SQLite and MariaDB (tests/concurrency/test_discount_race.py
races for the last uses with several processes)."""

from decimal import Decimal

import pytest

from tests.support import ILLINOIS, error_of, field_errors, json_of, send


def put_code(client, code='SUMMER10', headers=None, **body):
    """A 10 % code unless the body says otherwise; a field set to None is left out."""
    body = {'type': 'percent', 'value': 10, **body}
    return send(
        client,
        'PUT',
        f'/discounts/{code}',
        {name: value for name, value in body.items() if value is not None},
        headers,
    )


@pytest.fixture
def ada(issuer):
    return {'Authorization': f'Bearer {issuer.mint(user_id=1)}'}


@pytest.fixture
def shop(client):
    for product_id, price in ((101, '29.99'), (102, '49.99')):
        send(
            client,
            'PUT',
            f'/products/{product_id}',
            {'name': f'Product {product_id}', 'unit_price': Decimal(price), 'currency': 'USD'},
        )


def mugs_and_tee(**extra):
    return {
        'items': [{'product_id': 101, 'quantity': 2}, {'product_id': 102, 'quantity': 1}],
        **extra,
    }


def place(client, headers, **extra):
    return send(client, 'POST', '/orders', mugs_and_tee(**extra), headers)


def times_used(client, code='SUMMER10'):
    return json_of(send(client, 'GET', f'/discounts/{code}'))['times_used']


def test_staff_keep_codes_upper_case_with_their_use_count(client, ada):
    created = put_code(client, 'summer10', usage_limit=100)
    replaced = put_code(client, 'SUMMER10', headers={'If-Match': '"1"'}, value=15)

    assert created.status_code == 201 and replaced.status_code == 200
    assert json_of(replaced) | {'updated_at': None} == {
        'code': 'SUMMER10',
        'type': 'percent',
        'value': 15,
        'currency': None,
        'min_subtotal': None,
        'starts_at': None,
        'ends_at': None,
        'usage_limit': None,
        'per_customer_limit': None,
        'product_ids': None,
        'active': True,
        'times_used': 0,
        'version': 2,
        'updated_at': None,
    }
    assert json_of(send(client, 'GET', '/discounts'))['total'] == 1
    error_of(send(client, 'GET', '/discounts', headers=ada), 403, 'ForbiddenError')
    error_of(send(client, 'GET', '/discounts/SUMMER10', headers=ada), 403, 'ForbiddenError')
    error_of(put_code(client, 'MINE', headers=ada), 403, 'ForbiddenError')


@pytest.mark.parametrize(
    'body',
    [
        {'value': 0},
        {'value': 101},
        {'type': 'fixed', 'value': 5},  # no currency
        {'type': 'free_shipping', 'value': 5},
        {'min_subtotal': 50},  # no currency
        {'starts_at': '2026-12-24'},
        {'product_ids': []},
        {'type': 'bogo'},
    ],
)
def test_a_bad_code_is_a_400(client, body):
    field_errors(put_code(client, **body))


def test_a_percent_code_takes_its_share_of_each_line_before_tax(client, shop, ada):
    send(
        client,
        'PUT',
        '/tax-rates/US-IL',
        {'name': 'Illinois', 'rates': {'standard': Decimal('0.0625')}, 'shipping': True},
    )
    put_code(client)

    order = json_of(place(client, ada, shipping_address=ILLINOIS, discount_code='summer10'))

    assert [(item['discount'], item['tax']) for item in order['items']] == [
        (6.0, 3.37),
        (5.0, 2.81),
    ]
    assert order['discount'] == {'code': 'SUMMER10', 'type': 'percent', 'value': 10, 'amount': 11}
    assert (order['discount_total'], order['tax_total'], order['order_total']) == (
        11.0,
        6.18,
        105.15,
    )
    assert times_used(client) == 1


def test_a_fixed_code_is_shared_by_largest_remainder_over_its_products(client, shop, ada):
    put_code(client, 'TEN', type='fixed', value=10, currency='USD', product_ids=[101])

    order = json_of(place(client, ada, discount_code='TEN'))

    assert [item['discount'] for item in order['items']] == [10.0, 0]
    assert order['order_total'] == 99.97


@pytest.mark.parametrize(
    'code, message',
    [
        ({'active': False}, 'This code is not valid.'),
        ({'starts_at': '2099-01-01T00:00:00Z'}, 'This code is not valid.'),
        ({'ends_at': '2020-01-01T00:00:00Z'}, 'This code is not valid.'),
        ({'type': 'fixed', 'value': 5, 'currency': 'EUR'}, 'This code is for orders in EUR.'),
        ({'product_ids': [999]}, 'This code applies to none of the products of this order.'),
        (
            {'min_subtotal': 200, 'currency': 'USD'},
            'This code needs 200.00 USD of eligible products.',
        ),
    ],
)
def test_a_code_that_does_not_apply_is_a_409_the_customer_can_act_on(
    client, shop, ada, code, message
):
    put_code(client, **code)

    response = place(client, ada, discount_code='SUMMER10')

    assert error_of(response, 409, 'ConflictError')['errors'] == {'discount_code': [message]}
    assert json_of(send(client, 'GET', '/orders'))['total'] == 0


def test_uses_are_limited_in_total_and_per_customer_and_given_back_by_a_cancel(
    client, shop, ada, issuer
):
    bob = {'Authorization': f'Bearer {issuer.mint(user_id=2)}'}
    put_code(client, usage_limit=2, per_customer_limit=1)

    first = json_of(place(client, ada, discount_code='SUMMER10'))
    again = place(client, ada, discount_code='SUMMER10')
    quoted = send(client, 'POST', '/orders/quote', mugs_and_tee(discount_code='SUMMER10'), bob)
    assert quoted.status_code == 200 and times_used(client) == 1  # a quote counts nothing
    second = place(client, bob, discount_code='SUMMER10')
    carol = {'Authorization': f'Bearer {issuer.mint(user_id=3)}'}
    used_up = place(client, carol, discount_code='SUMMER10')
    send(client, 'PUT', f'/orders/{first["order_id"]}', {'status': 'cancelled'}, ada)
    after_cancel = place(client, carol, discount_code='SUMMER10')

    assert error_of(again, 409, 'ConflictError')['errors']['discount_code'] == [
        'You have already used this code as often as it allows.'
    ]
    assert second.status_code == 201
    assert error_of(used_up, 409, 'ConflictError')['errors']['discount_code'] == [
        'This code has been used up.'
    ]
    assert after_cancel.status_code == 201
    assert times_used(client) == 2


def test_deleting_an_order_gives_its_use_back_unless_it_shipped(client, shop):
    put_code(client)
    kept = json_of(place(client, {}, user_id=1, discount_code='SUMMER10'))
    gone = json_of(place(client, {}, user_id=1, discount_code='SUMMER10'))
    send(client, 'PUT', f'/orders/{kept["order_id"]}', {'status': 'shipped'})

    send(client, 'DELETE', f'/orders/{kept["order_id"]}')
    send(client, 'DELETE', f'/orders/{gone["order_id"]}')

    assert times_used(client) == 1


def test_free_shipping_waives_the_methods_price(client, shop, ada):
    send(
        client,
        'PUT',
        '/shipping-methods/standard',
        {'name': 'Standard', 'price': Decimal('4.99'), 'currency': 'USD', 'countries': ['US']},
    )
    assert put_code(client, 'SHIPFREE', type='free_shipping', value=None).status_code == 201

    order = json_of(
        place(
            client,
            ada,
            shipping_address=ILLINOIS,
            shipping_method='standard',
            discount_code='SHIPFREE',
        )
    )

    assert order['shipping'] | {'name': None} == {
        'method': 'standard',
        'name': None,
        'amount': 4.99,
        'tax': 0,
        'waived': 4.99,
    }
    assert order['discount']['amount'] == 4.99
    assert (order['shipping_total'], order['order_total']) == (0, 109.97)
