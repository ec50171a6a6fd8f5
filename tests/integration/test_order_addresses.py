"""Addresses copied onto an order and checked by their country's rules
(chalicelib/orders/addresses.py), over HTTP on SQLite and MariaDB."""

import pytest

from tests.support import error_of, field_errors, json_of, order_body, send

ILLINOIS = {
    'name': 'Ada Lovelace',
    'line1': '12 Main St',
    'city': 'Springfield',
    'region': 'IL',
    'postal_code': '62704',
    'country': 'US',
    'phone': '+12175550100',
}


def order_count(client):
    return json_of(send(client, 'GET', '/orders'))['total']


def test_an_order_keeps_a_copy_of_its_address_with_every_field(client):
    response = send(client, 'POST', '/orders', order_body(shipping_address=ILLINOIS))

    order = json_of(response)
    assert response.status_code == 201, response.body
    assert order['shipping_address'] == {**ILLINOIS, 'company': None, 'line2': None}
    assert order['billing_address'] is None  # the same as the shipping address
    assert (
        json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['shipping_address']
        == (order['shipping_address'])
    )


def test_a_postal_code_is_kept_normalised_as_its_country_writes_it(client):
    london = {'name': 'Ada', 'line1': '10 Downing St', 'city': 'London', 'country': 'GB'}

    order = json_of(
        send(
            client,
            'POST',
            '/orders',
            order_body(
                shipping_address={**ILLINOIS, 'postal_code': '62704-1234'},
                billing_address={**london, 'postal_code': 'sw1a 2aa'},
            ),
        )
    )

    assert order['billing_address']['postal_code'] == 'SW1A 2AA'
    assert order['shipping_address']['postal_code'] == '62704-1234'


@pytest.mark.parametrize(
    'change, field',
    [
        ({'postal_code': 'SW1A 1AA'}, 'postal_code'),  # not a US format
        ({'postal_code': '10001'}, 'postal_code'),  # a New York code in Illinois
        ({'postal_code': None}, 'postal_code'),  # required in the US
        ({'region': 'ZZ'}, 'region'),
        ({'region': None}, 'region'),  # required in the US
        ({'country': 'XX'}, 'country'),
        ({'country': 'us'}, 'country'),
        ({'phone': '2175550100'}, 'phone'),  # not E.164
        ({'name': 'Ada\u202eLovelace'}, 'name'),  # a bidirectional control
        ({'line1': ''}, 'line1'),
        ({'city': 'x' * 101}, 'city'),
    ],
)
def test_a_bad_field_is_a_400_keyed_by_its_path_and_nothing_is_created(client, change, field):
    response = send(client, 'POST', '/orders', order_body(shipping_address={**ILLINOIS, **change}))

    assert list(field_errors(response)['shipping_address']) == [field]
    assert order_count(client) == 0


def test_a_region_where_the_country_has_none_is_refused(client):
    berlin = {'name': 'Ada', 'line1': 'Unter den Linden 1', 'city': 'Berlin', 'country': 'DE'}

    refused = send(
        client,
        'POST',
        '/orders',
        order_body(billing_address={**berlin, 'postal_code': '10117', 'region': 'BE'}),
    )
    kept = send(
        client, 'POST', '/orders', order_body(billing_address={**berlin, 'postal_code': '10117'})
    )

    assert list(field_errors(refused)['billing_address']) == ['region']
    assert kept.status_code == 201


def test_an_unknown_address_field_is_refused(client):
    response = send(
        client, 'POST', '/orders', order_body(shipping_address={**ILLINOIS, 'state': 'IL'})
    )

    error_of(response, 400, 'BadRequestError')
    assert 'state' in field_errors(response)['shipping_address']
