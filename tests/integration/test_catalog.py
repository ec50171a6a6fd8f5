"""The catalog over HTTP: PUT /products/{id} (staff; create or replace,
If-Match), GET /products/{id} and GET /products, on SQLite and MariaDB."""

from decimal import Decimal

import pytest

from tests.support import json_of, put_product, send

MUG = {
    'name': 'Blue mug',
    'sku': 'MUG-BLUE',
    'unit_price': Decimal('29.99'),
    'currency': 'USD',
    'stock': {'on_hand': 40},
}


@pytest.fixture
def customer(issuer):
    return {'Authorization': f'Bearer {issuer.mint(user_id=1, email="ada@example.com")}'}


@pytest.fixture
def service(issuer):
    return {'Authorization': f'Bearer {issuer.mint(role="service")}'}


def test_put_creates_with_201_then_replaces_with_200_and_a_new_version(client):
    created = send(client, 'PUT', '/products/101', MUG)
    replaced = send(client, 'PUT', '/products/101', {**MUG, 'unit_price': Decimal('31.99')})

    assert (created.status_code, replaced.status_code) == (201, 200)
    assert created.headers['ETag'] == '"1"' and replaced.headers['ETag'] == '"2"'
    product = json_of(replaced)
    assert {
        name: product[name]
        for name in ('product_id', 'sku', 'unit_price', 'currency', 'active', 'stock', 'version')
    } == {
        'product_id': 101,
        'sku': 'MUG-BLUE',
        'unit_price': 31.99,
        'currency': 'USD',
        'active': True,
        'stock': {'on_hand': 40, 'reserved': 0, 'available': 40},
        'version': 2,
    }


def test_left_out_sku_active_and_stock_take_their_defaults(client):
    product = put_product(client, 5, name='Gift card', unit_price=Decimal('10'), currency='EUR')

    assert (product['sku'], product['active'], product['stock']) == (None, True, None)


def test_if_match_makes_the_write_conditional(client):
    put_product(client, 101, **MUG)

    stale = send(client, 'PUT', '/products/101', MUG, {'If-Match': '"7"'})
    current = send(client, 'PUT', '/products/101', MUG, {'If-Match': '"1"'})
    missing = send(client, 'PUT', '/products/102', MUG | {'sku': None}, {'If-Match': '"1"'})

    assert (stale.status_code, current.status_code, missing.status_code) == (412, 200, 412)


def test_another_products_sku_is_a_409_naming_it(client):
    put_product(client, 101, **MUG)

    response = send(client, 'PUT', '/products/102', MUG)

    assert response.status_code == 409
    assert json_of(response)['errors'] == {'sku': ['Already the SKU of product 101.']}


def test_skus_are_compared_exactly(client):
    put_product(client, 101, **MUG)

    assert put_product(client, 102, **{**MUG, 'sku': 'mug-blue'})['sku'] == 'mug-blue'


@pytest.mark.parametrize(
    'body, where',
    [
        ({**MUG, 'unit_price': Decimal('29.999')}, 'unit_price'),
        ({**MUG, 'currency': 'JPY'}, 'unit_price'),  # 29.99 has decimals JPY does not
        ({**MUG, 'currency': 'XXX'}, 'currency'),
        ({**MUG, 'name': 'Blue\u202emug'}, 'name'),
        ({**MUG, 'name': ''}, 'name'),
        ({**MUG, 'sku': 'A' * 65}, 'sku'),
        ({**MUG, 'active': 'true'}, 'active'),
        ({**MUG, 'stock': {'on_hand': -1}}, 'stock'),
        ({**MUG, 'stock': {'on_hand': 10**9 + 1}}, 'stock'),
        ({**MUG, 'stock': {'on_hand': 1, 'reserved': 0}}, 'stock'),
        ({**MUG, 'reserved': 3}, 'reserved'),
    ],
)
def test_a_product_outside_the_rules_is_a_400_keyed_by_field(client, body, where):
    response = send(client, 'PUT', '/products/101', body)

    assert response.status_code == 400
    assert set(json_of(response)['errors']) == {where}


@pytest.mark.parametrize('caller', ['customer', 'service'])
def test_only_staff_write_the_catalog(client, request, caller):
    response = send(client, 'PUT', '/products/101', MUG, request.getfixturevalue(caller))

    assert response.status_code == 403


def test_a_customer_sees_only_what_is_available_and_no_retired_product(client, customer):
    put_product(client, 101, **MUG)
    put_product(client, 102, **{**MUG, 'sku': 'OLD', 'active': False})

    seen = json_of(send(client, 'GET', '/products/101', headers=customer))
    retired = send(client, 'GET', '/products/102', headers=customer)

    assert seen['stock'] == {'available': 40}
    assert retired.status_code == 404
    assert json_of(send(client, 'GET', '/products/102'))['active'] is False


def test_a_service_reads_the_whole_stock(client, service):
    put_product(client, 101, **MUG)

    product = json_of(send(client, 'GET', '/products/101', headers=service))

    assert product['stock'] == {'on_hand': 40, 'reserved': 0, 'available': 40}


def test_an_unknown_product_is_a_404_and_a_bad_id_a_400(client):
    assert send(client, 'GET', '/products/9').status_code == 404
    assert send(client, 'GET', '/products/0').status_code == 400


def test_the_list_is_by_product_id_paged_by_number_or_cursor(client):
    for product_id in (3, 1, 2, 5, 4):
        put_product(
            client,
            product_id,
            name=f'P{product_id}',
            unit_price=1,
            currency='USD',
            active=product_id != 4,
        )

    first = json_of(send(client, 'GET', '/products?page_size=2'))
    second = json_of(send(client, 'GET', f'/products?page_size=2&cursor={first["next_cursor"]}'))
    by_page = json_of(send(client, 'GET', '/products?page_size=2&page=2'))
    retired = json_of(send(client, 'GET', '/products?active=false'))

    assert [p['product_id'] for p in first['products']] == [1, 2] and first['total'] == 5
    assert [p['product_id'] for p in second['products']] == [3, 4]
    assert [p['product_id'] for p in by_page['products']] == [3, 4]
    assert [p['product_id'] for p in retired['products']] == [4] and retired['total'] == 1


def test_a_customers_list_holds_active_products_only(client, customer):
    for product_id in (1, 2):
        put_product(
            client, product_id, name='P', unit_price=1, currency='USD', active=product_id == 1
        )

    listed = json_of(send(client, 'GET', '/products', headers=customer))
    cursor_page = json_of(send(client, 'GET', '/products?page_size=1', headers=customer))

    assert [p['product_id'] for p in listed['products']] == [1] and listed['total'] == 1
    assert cursor_page['next_cursor'] is None
    assert send(client, 'GET', '/products?active=false', headers=customer).status_code == 403


@pytest.mark.parametrize(
    'query', ['active=yes', 'page_size=0', 'page=1&cursor=abc', 'cursor=%%%', 'colour=blue']
)
def test_a_list_query_outside_the_rules_is_a_400(client, query):
    assert send(client, 'GET', f'/products?{query}').status_code == 400
