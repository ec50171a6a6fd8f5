"""Shipping methods (PUT/GET /shipping-methods) and the shipping of an
order: required of a customer once the shop has an active method, priced
and taxed through orders/totals.py, kept on the order as it was placed.
Over HTTP on SQLite and MariaDB."""

from decimal import Decimal

import pytest

from tests.support import ILLINOIS, error_of, field_errors, json_of, send

STANDARD = {
    'name': 'Standard, 3-5 days',
    'price': Decimal('4.99'),
    'currency': 'USD',
    'countries': ['US', 'CA'],
    'free_over': Decimal('100.00'),
}


def put_method(client, code='standard', headers=None, **changes):
    return send(client, 'PUT', f'/shipping-methods/{code}', {**STANDARD, **changes}, headers)


@pytest.fixture
def ada(issuer):
    return {'Authorization': f'Bearer {issuer.mint(user_id=1)}'}


@pytest.fixture
def shop(client):
    """Two mugs in the catalog, the contract's Illinois tax and one method."""
    send(client, 'PUT', '/products/101', {'name': 'Mug', 'unit_price': 29.99, 'currency': 'USD'})
    send(
        client,
        'PUT',
        '/tax-rates/US-IL',
        {'name': 'Illinois', 'rates': {'standard': Decimal('0.0625')}, 'shipping': True},
    )
    assert put_method(client).status_code == 201


def mugs(quantity=1, **extra):
    return {'items': [{'product_id': 101, 'quantity': quantity}], **extra}


def test_staff_keep_methods_like_products_and_customers_read_the_active_ones(client, ada):
    created = put_method(client)
    replaced = put_method(client, headers={'If-Match': '"1"'}, price=Decimal('5.99'))
    stale = put_method(client, headers={'If-Match': '"1"'})
    put_method(client, 'pigeon', active=False)

    assert created.status_code == 201 and replaced.status_code == 200
    assert replaced.headers['ETag'] == '"2"'
    error_of(stale, 412, 'PreconditionFailed')
    assert json_of(replaced) | {'updated_at': None} == {
        'code': 'standard',
        'name': 'Standard, 3-5 days',
        'price': 5.99,
        'currency': 'USD',
        'countries': ['CA', 'US'],
        'free_over': 100.0,
        'active': True,
        'version': 2,
        'updated_at': None,
    }
    listed = json_of(send(client, 'GET', '/shipping-methods', headers=ada))
    assert [method['code'] for method in listed['shipping_methods']] == ['standard']
    assert listed['total'] == 1
    error_of(send(client, 'GET', '/shipping-methods/pigeon', headers=ada), 404, 'NotFoundError')
    assert json_of(send(client, 'GET', '/shipping-methods/pigeon'))['active'] is False
    error_of(put_method(client, 'express', headers=ada), 403, 'ForbiddenError')


def test_the_list_filters_by_country_and_currency_and_pages_by_cursor(client):
    for code in ('a', 'b', 'c'):
        put_method(client, code)
    put_method(client, 'euro', currency='EUR', countries=['DE'])

    first = json_of(send(client, 'GET', '/shipping-methods?country=US&page_size=2'))
    rest = json_of(
        send(client, 'GET', f'/shipping-methods?cursor={first["next_cursor"]}&page_size=2')
    )
    euro = json_of(send(client, 'GET', '/shipping-methods?currency=EUR'))

    assert [m['code'] for m in first['shipping_methods']] == ['a', 'b']
    assert [m['code'] for m in rest['shipping_methods']] == ['c']
    assert rest['next_cursor'] is None and first['total'] == 3
    assert [m['code'] for m in euro['shipping_methods']] == ['euro']


@pytest.mark.parametrize(
    'change',
    [
        {'countries': []},
        {'countries': ['us']},
        {'price': Decimal('4.999')},
        {'currency': 'JPY'},  # 4.99 JPY has decimals
        {'active': 'yes'},
    ],
)
def test_a_bad_method_is_a_400(client, change):
    field_errors(put_method(client, **change))


def test_a_customer_order_ships_and_is_taxed_as_the_contract_says(client, shop, ada):
    order = json_of(
        send(
            client,
            'POST',
            '/orders',
            mugs(2, shipping_address=ILLINOIS, shipping_method='standard'),
            ada,
        )
    )

    assert order['shipping'] == {
        'method': 'standard',
        'name': 'Standard, 3-5 days',
        'amount': 4.99,
        'tax': 0.31,
        'waived': 0,
    }
    # 59.98 + 3.75 of tax + 4.99 of shipping + 0.31 of its tax
    assert (order['shipping_total'], order['tax_total'], order['order_total']) == (
        4.99,
        4.06,
        69.03,
    )


def test_shipping_is_free_from_its_threshold_and_a_later_change_leaves_placed_orders(
    client, shop, ada
):
    free = json_of(
        send(
            client,
            'POST',
            '/orders',
            mugs(4, shipping_address=ILLINOIS, shipping_method='standard'),
            ada,
        )
    )
    placed = json_of(
        send(
            client,
            'POST',
            '/orders',
            mugs(1, shipping_address=ILLINOIS, shipping_method='standard'),
            ada,
        )
    )
    put_method(client, name='Renamed', price=Decimal('9.99'))

    assert free['shipping_total'] == 0 and free['shipping']['amount'] == 0
    again = json_of(send(client, 'GET', f'/orders/{placed["order_id"]}', headers=ada))
    assert again['shipping']['name'] == 'Standard, 3-5 days'
    assert again['shipping']['amount'] == 4.99


def test_a_customer_must_choose_a_method_once_the_shop_has_one(client, shop, ada):
    missing = send(client, 'POST', '/orders', mugs(shipping_address=ILLINOIS), ada)
    no_address = send(client, 'POST', '/orders', mugs(shipping_method='standard'), ada)
    by_staff = send(client, 'POST', '/orders', mugs(user_id=1))

    assert 'shipping_method' in field_errors(missing)
    assert 'shipping_address' in field_errors(no_address)
    assert by_staff.status_code == 201 and json_of(by_staff)['shipping'] is None


@pytest.mark.parametrize(
    'method, address, why',
    [
        ('express', ILLINOIS, 'Not a shipping method of this shop.'),
        ('inactive', ILLINOIS, 'Not a shipping method of this shop.'),
        ('euro', ILLINOIS, 'Charges in EUR, this order is in USD.'),
        (
            'standard',
            {
                'name': 'Ada',
                'line1': 'x',
                'city': 'London',
                'postal_code': 'SW1A 1AA',
                'country': 'GB',
            },
            'Does not ship to GB.',
        ),
    ],
)
def test_a_method_that_cannot_ship_the_order_is_a_409_and_nothing_is_created(
    client, shop, ada, method, address, why
):
    put_method(client, 'inactive', active=False)
    put_method(client, 'euro', currency='EUR')

    response = send(
        client, 'POST', '/orders', mugs(shipping_address=address, shipping_method=method), ada
    )

    assert error_of(response, 409, 'ConflictError')['errors'] == {'shipping_method': [why]}
    assert json_of(send(client, 'GET', '/orders'))['total'] == 0


def test_the_export_carries_each_lines_discount_and_tax_and_the_orders_shipping_and_tax(
    client, shop, ada
):
    send(
        client,
        'POST',
        '/orders',
        mugs(2, shipping_address=ILLINOIS, shipping_method='standard'),
        ada,
    )

    response = client.http.request('GET', '/users/1/orders/export', headers={})
    header, row = response.body.decode().strip().split('\r\n')

    assert header.endswith('price_at_order,line_discount,line_tax,shipping_total,tax_total')
    assert row.endswith(',29.99,0.00,3.75,4.99,4.06')
