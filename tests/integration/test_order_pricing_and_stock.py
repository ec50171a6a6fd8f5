"""Orders priced from the catalog, in one currency, reserving tracked stock:
over HTTP on SQLite and MariaDB (tests/concurrency/test_stock_race.py races
for the last units with several processes)."""

from decimal import Decimal

import pytest

from tests.support import json_of, order_body, put_product, send

ADA = 1


@pytest.fixture
def ada(issuer):
    return {'Authorization': f'Bearer {issuer.mint(user_id=ADA, email="ada@example.com")}'}


@pytest.fixture
def shop(client):
    put_product(
        client,
        101,
        name='Blue mug',
        sku='MUG-BLUE',
        unit_price=Decimal('29.99'),
        currency='USD',
        stock={'on_hand': 5},
    )
    put_product(
        client, 102, name='Black T-shirt', sku='TEE', unit_price=Decimal('49.99'), currency='USD'
    )
    put_product(client, 103, name='Paper fan', sku='FAN', unit_price=2400, currency='JPY')


def order_count(client):
    return json_of(send(client, 'GET', '/orders'))['total']


def stock_of(client, product_id):
    return json_of(send(client, 'GET', f'/products/{product_id}'))['stock']


def held(database):
    """{product_id: quantity} the order lines holding stock hold, by the database."""
    return {
        product_id: int(quantity)
        for product_id, quantity in database.execute_sql(
            'SELECT product_id, SUM(quantity) FROM order_items WHERE holds_stock = 1 '
            'GROUP BY product_id'
        )
    }


def place(client, headers, *lines):
    return send(
        client,
        'POST',
        '/orders',
        {
            'items': [
                {'product_id': product_id, 'quantity': quantity} for product_id, quantity in lines
            ]
        },
        headers,
    )


def test_a_customers_order_is_priced_from_the_catalog(client, shop, ada):
    response = place(client, ada, (101, 2), (102, 1))

    assert response.status_code == 201, response.body
    order = json_of(response)
    assert (order['order_total'], order['currency']) == (109.97, 'USD')
    assert [(i['sku'], i['name'], i['price_at_order']) for i in order['items']] == [
        ('MUG-BLUE', 'Blue mug', 29.99),
        ('TEE', 'Black T-shirt', 49.99),
    ]


def test_a_price_a_customer_saw_before_it_changed_is_a_409_and_creates_nothing(client, shop, ada):
    put_product(
        client,
        101,
        name='Blue mug',
        sku='MUG-BLUE',
        unit_price=Decimal('31.99'),
        currency='USD',
        stock={'on_hand': 5},
    )

    response = send(client, 'POST', '/orders', order_body(user_id=ADA), ada)

    assert response.status_code == 409
    assert json_of(response)['errors'] == {
        'items': {'0': {'price_at_order': ['The current price is 31.99 USD.']}}
    }
    assert order_count(client) == 0
    assert stock_of(client, 101)['reserved'] == 0


def test_a_customers_tiny_price_never_buys_anything(client, shop, ada):
    response = send(
        client,
        'POST',
        '/orders',
        {'items': [{'product_id': 101, 'quantity': 1, 'price_at_order': Decimal('0.01')}]},
        ada,
    )

    assert response.status_code == 409 and order_count(client) == 0


def test_a_product_the_catalog_does_not_sell_is_a_400_by_item(client, shop, ada):
    put_product(client, 104, name='Old lamp', unit_price=1, currency='USD', active=False)

    response = place(client, ada, (101, 1), (104, 1), (999, 1))

    assert response.status_code == 400
    assert set(json_of(response)['errors']['items']) == {'1', '2'}


def test_staffs_original_body_keeps_working_for_products_outside_the_catalog(client, shop):
    response = send(
        client,
        'POST',
        '/orders',
        order_body(
            user_id=7,
            user_email='ada@example.com',
            items=[{'product_id': 555, 'quantity': 2, 'price_at_order': Decimal('0.10')}],
        ),
    )

    order = json_of(response)
    assert response.status_code == 201
    assert (order['order_total'], order['currency'], order['items'][0]['sku']) == (0.2, 'USD', None)


def test_staff_price_and_currency_are_kept_as_sent(client, shop):
    order = json_of(
        send(
            client,
            'POST',
            '/orders',
            {
                'user_id': 7,
                'currency': 'EUR',
                'items': [{'product_id': 555, 'quantity': 1, 'price_at_order': Decimal('12.50')}],
            },
        )
    )

    assert (order['currency'], order['order_total']) == ('EUR', 12.5)


def test_a_jpy_order_is_in_yen_everywhere(client, shop, ada):
    order = json_of(place(client, ada, (103, 3)))

    assert (order['currency'], order['order_total']) == ('JPY', 7200)
    export = client.http.request('GET', f'/users/{ADA}/orders/export').body.decode()
    assert ',7200,JPY,103,FAN,3,2400,0,0,0,0\r\n' in export


def test_products_in_two_currencies_are_a_400(client, shop, ada):
    assert place(client, ada, (101, 1), (103, 1)).status_code == 400


def test_an_order_reserves_and_short_stock_is_a_409_per_item_with_nothing_created(
    client, shop, ada, database
):
    assert place(client, ada, (101, 3)).status_code == 201

    response = place(client, ada, (102, 1), (101, 2), (101, 1))

    assert response.status_code == 409
    assert json_of(response)['errors'] == {
        'items': {
            '1': {'quantity': ['Only 2 available.']},
            '2': {'quantity': ['Only 2 available.']},
        }
    }
    assert order_count(client) == 1
    assert stock_of(client, 101) == {'on_hand': 5, 'reserved': 3, 'available': 2}
    assert held(database) == {101: 3}


def test_cancelling_releases_and_shipping_sells(client, shop, ada, database):
    cancelled = json_of(place(client, ada, (101, 2)))
    shipped = json_of(place(client, ada, (101, 3)))

    send(client, 'PUT', f'/orders/{cancelled["order_id"]}', {'status': 'cancelled'}, ada)
    send(client, 'PUT', f'/orders/{shipped["order_id"]}', {'status': 'shipped'})

    assert stock_of(client, 101) == {'on_hand': 2, 'reserved': 0, 'available': 2}
    assert held(database) == {}


def test_deleting_an_unshipped_order_releases_and_a_shipped_one_moves_nothing(
    client, shop, ada, database
):
    open_order = json_of(place(client, ada, (101, 1)))
    shipped = json_of(place(client, ada, (101, 2)))
    send(client, 'PUT', f'/orders/{shipped["order_id"]}', {'status': 'shipped'})

    send(client, 'DELETE', f'/orders/{open_order["order_id"]}')
    send(client, 'DELETE', f'/orders/{shipped["order_id"]}')

    assert stock_of(client, 101) == {'on_hand': 3, 'reserved': 0, 'available': 3}


def test_on_hand_set_below_reserved_leaves_nothing_available(client, shop, ada):
    place(client, ada, (101, 4))

    put_product(
        client,
        101,
        name='Blue mug',
        sku='MUG-BLUE',
        unit_price=Decimal('29.99'),
        currency='USD',
        stock={'on_hand': 1},
    )

    assert stock_of(client, 101) == {'on_hand': 1, 'reserved': 4, 'available': 0}
    assert place(client, ada, (101, 1)).status_code == 409


def test_shipping_more_than_on_hand_leaves_on_hand_at_zero(client, shop, ada):
    order = json_of(place(client, ada, (101, 4)))
    put_product(
        client,
        101,
        name='Blue mug',
        sku='MUG-BLUE',
        unit_price=Decimal('29.99'),
        currency='USD',
        stock={'on_hand': 1},
    )

    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'shipped'})

    assert stock_of(client, 101) == {'on_hand': 0, 'reserved': 0, 'available': 0}


def test_an_untracked_product_is_never_out_of_stock(client, shop, ada):
    assert place(client, ada, (102, 10000)).status_code == 201
    assert stock_of(client, 102) is None


@pytest.mark.parametrize('status', ['shipped', 'cancelled'])
def test_a_product_made_untracked_stays_untracked_when_an_older_order_closes(
    client, shop, ada, database, status
):
    order = json_of(place(client, ada, (101, 2)))
    put_product(
        client, 101, name='Blue mug', sku='MUG-BLUE', unit_price=Decimal('29.99'), currency='USD'
    )

    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': status})

    assert stock_of(client, 101) is None
    assert held(database) == {}
    # Tracked again: the closed order holds nothing, so all of a new count is available.
    put_product(
        client,
        101,
        name='Blue mug',
        sku='MUG-BLUE',
        unit_price=Decimal('29.99'),
        currency='USD',
        stock={'on_hand': 7},
    )
    assert stock_of(client, 101) == {'on_hand': 7, 'reserved': 0, 'available': 7}


def test_recount_gives_back_what_orders_closed_behind_the_service_still_held(
    client, shop, ada, database
):
    from chalicelib.orders import counts
    from chalicelib.storage.models import Order, Product

    kept = json_of(place(client, ada, (101, 1)))
    closed = json_of(place(client, ada, (101, 2)))
    # A copy of the release before catalogs cancels an order (it knows no stock),
    # and a count goes wrong.
    Order.update(status='cancelled').where(Order.order_id == closed['order_id']).execute()
    Product.update(reserved=99).where(Product.product_id == 101).execute()

    counts.recount()

    assert stock_of(client, 101) == {'on_hand': 5, 'reserved': 1, 'available': 4}
    assert held(database) == {101: 1}
    assert status_of_order(client, kept['order_id']) == 'pending'


def status_of_order(client, order_id):
    return json_of(send(client, 'GET', f'/orders/{order_id}'))['status']


@pytest.mark.parametrize(
    'database_url', [pytest.param('mariadb', marks=pytest.mark.mariadb)], indirect=True
)
def test_product_rows_are_locked_last_in_ascending_order(client, shop, ada, executed_sql):
    put_product(
        client,
        99,
        name='Small mug',
        unit_price=Decimal('29.99'),
        currency='USD',
        stock={'on_hand': 5},
    )
    executed_sql.clear()

    assert place(client, ada, (101, 1), (99, 1)).status_code == 201

    statements = [sql for sql in executed_sql if not sql.startswith(('SELECT 1', 'SET '))]
    [lock] = [
        i
        for i, sql in enumerate(statements)
        if sql.endswith('FOR UPDATE') and 'FROM products' in sql
    ]
    assert 'product_id IN (99, 101) ORDER BY product_id' in statements[lock]
    # Held for the reservation and the commit, nothing else.
    assert statements[lock + 1].startswith('UPDATE products SET reserved = reserved +')
    assert statements[lock + 2] == 'COMMIT'
    assert any(sql.startswith('INSERT INTO order_items') for sql in statements[:lock])
