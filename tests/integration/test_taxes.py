"""Flat tax rates by destination zone (PUT/GET/DELETE /tax-rates), tax classes
on products and PRICES_INCLUDE_TAX, over HTTP on SQLite and MariaDB: an order
is taxed line by line through orders/totals.py at its destination's most
precise zone."""

from decimal import Decimal

import pytest

from chalicelib.platform.config import get_settings
from tests.support import ILLINOIS, error_of, field_errors, json_of, order_body, put_product, send

OREGON = {**ILLINOIS, 'city': 'Portland', 'region': 'OR', 'postal_code': '97201'}


def put_rates(client, zone, rates, shipping=True, name='Sales tax', headers=None):
    return send(
        client,
        'PUT',
        f'/tax-rates/{zone}',
        {'name': name, 'rates': rates, 'shipping': shipping},
        headers,
    )


@pytest.fixture
def customer(issuer):
    return {'Authorization': f'Bearer {issuer.mint(user_id=1)}'}


def test_staff_keep_tax_rates_by_zone(client):
    created = put_rates(client, 'US-IL', {'standard': Decimal('0.0625')})
    replaced = put_rates(client, 'US-IL', {'standard': Decimal('0.07'), 'books': 0})

    assert created.status_code == 201
    assert replaced.status_code == 200
    assert json_of(send(client, 'GET', '/tax-rates/US-IL')) | {'updated_at': None} == {
        'zone': 'US-IL',
        'name': 'Sales tax',
        'rates': {'standard': 0.07, 'books': 0},
        'shipping': True,
        'updated_at': None,
    }
    assert [rate['zone'] for rate in json_of(send(client, 'GET', '/tax-rates'))['tax_rates']] == [
        'US-IL'
    ]
    assert send(client, 'DELETE', '/tax-rates/US-IL').status_code == 204
    error_of(send(client, 'GET', '/tax-rates/US-IL'), 404, 'NotFoundError')
    error_of(send(client, 'DELETE', '/tax-rates/US-IL'), 404, 'NotFoundError')


@pytest.mark.parametrize(
    'zone, rates',
    [
        ('us-il', {'standard': Decimal('0.1')}),
        ('USA', {'standard': Decimal('0.1')}),
        ('US-IL', {'standard': 1}),  # 0 <= r < 1
        ('US-IL', {'standard': Decimal('0.12345')}),  # four decimals at most
        ('US-IL', {'standard': '0.1'}),
        ('US-IL', {'Standard': Decimal('0.1')}),
        ('US-IL', {}),
    ],
)
def test_a_bad_zone_or_rate_is_a_400(client, zone, rates):
    field_errors(put_rates(client, zone, rates))


def test_only_staff_read_or_write_tax_rates(client, customer):
    put_rates(client, 'US-IL', {'standard': Decimal('0.0625')})

    error_of(put_rates(client, 'US', {'standard': 0}, headers=customer), 403, 'ForbiddenError')
    error_of(send(client, 'GET', '/tax-rates', headers=customer), 403, 'ForbiddenError')
    error_of(send(client, 'DELETE', '/tax-rates/US-IL', headers=customer), 403, 'ForbiddenError')


def test_an_order_is_taxed_per_line_at_its_destinations_zone(client):
    put_rates(client, 'US-IL', {'standard': Decimal('0.0625')})

    order = json_of(send(client, 'POST', '/orders', order_body(shipping_address=ILLINOIS)))

    assert [(item['tax'], item['tax_rate']) for item in order['items']] == [
        (3.75, 0.0625),  # 59.98 x 6.25 % = 3.74875
        (3.12, 0.0625),  # 49.99 x 6.25 % = 3.124375
    ]
    assert (order['subtotal'], order['tax_total'], order['order_total']) == (
        109.97,
        6.87,
        116.84,
    )


def test_a_country_zone_taxes_where_its_region_has_none_and_no_zone_means_no_tax(client):
    put_rates(client, 'US-IL', {'standard': Decimal('0.0625')})
    put_rates(client, 'US', {'standard': Decimal('0.05')})

    oregon = json_of(send(client, 'POST', '/orders', order_body(shipping_address=OREGON)))
    nowhere = json_of(send(client, 'POST', '/orders', order_body()))
    german = json_of(
        send(
            client,
            'POST',
            '/orders',
            order_body(
                billing_address={
                    'name': 'Ada',
                    'line1': 'Unter den Linden 1',
                    'city': 'Berlin',
                    'postal_code': '10117',
                    'country': 'DE',
                }
            ),
        )
    )

    assert oregon['tax_total'] == 5.50  # 2.999 + 2.4995, each rounded half up
    assert nowhere['tax_total'] == german['tax_total'] == 0
    assert nowhere['order_total'] == german['order_total'] == 109.97


def test_a_product_is_taxed_at_its_class_and_a_class_the_zone_lacks_at_zero(client):
    put_rates(client, 'US-IL', {'standard': Decimal('0.1'), 'reduced': Decimal('0.01')})
    put_product(
        client, 201, name='Book', unit_price=Decimal('10.00'), currency='USD', tax_class='reduced'
    )
    put_product(
        client, 202, name='Bread', unit_price=Decimal('10.00'), currency='USD', tax_class='food'
    )

    order = json_of(
        send(
            client,
            'POST',
            '/orders',
            {
                'items': [
                    {'product_id': 201, 'quantity': 1},
                    {'product_id': 202, 'quantity': 1},
                    {'product_id': 999, 'quantity': 1, 'price_at_order': 10},
                ],
                'user_id': 1,
                'shipping_address': ILLINOIS,
            },
        )
    )

    assert json_of(send(client, 'GET', '/products/201'))['tax_class'] == 'reduced'
    assert [(item['tax'], item['tax_rate']) for item in order['items']] == [
        (0.1, 0.01),
        (0, 0),
        (1.0, 0.1),  # a line no catalog product names is standard
    ]


def test_prices_that_include_tax_keep_the_total_and_show_the_tax_inside(client, monkeypatch):
    monkeypatch.setenv('PRICES_INCLUDE_TAX', 'true')
    get_settings.cache_clear()
    put_rates(client, 'US-IL', {'standard': Decimal('0.2')})

    order = json_of(send(client, 'POST', '/orders', order_body(shipping_address=ILLINOIS)))

    assert order['prices_include_tax'] is True
    # 59.98 - round(59.98 / 1.2) = 10.00; 49.99 - round(49.99 / 1.2) = 8.33
    assert [item['tax'] for item in order['items']] == [10.0, 8.33]
    assert (order['tax_total'], order['order_total']) == (18.33, 109.97)


def test_a_tax_class_on_a_product_must_be_a_code(client):
    response = send(
        client,
        'PUT',
        '/products/201',
        {'name': 'Book', 'unit_price': 10, 'currency': 'USD', 'tax_class': 'Reduced Rate'},
    )

    assert 'tax_class' in field_errors(response)
