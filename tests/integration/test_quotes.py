"""POST /orders/quote answers the order as it would be placed and stores,
reserves, counts and publishes nothing; `expected_total` on POST /orders
makes a total the server computes otherwise a 409. Over HTTP on SQLite and
MariaDB."""

from decimal import Decimal

import pytest

from chalicelib.storage.models import Order, OrderHistory, OrderItem, Outbox
from tests.support import ILLINOIS, error_of, json_of, order_body, put_product, send

UNSET = ('order_id', 'version', 'created_at', 'updated_at')


@pytest.fixture
def taxed(client):
    send(
        client,
        'PUT',
        '/tax-rates/US-IL',
        {'name': 'Illinois', 'rates': {'standard': Decimal('0.0625')}, 'shipping': True},
    )
    put_product(
        client,
        101,
        name='Blue mug',
        unit_price=Decimal('29.99'),
        currency='USD',
        stock={'on_hand': 2},
    )


@pytest.fixture
def ada(issuer):
    return {'Authorization': f'Bearer {issuer.mint(user_id=1)}'}


def nothing_written():
    return (
        Order.select().count(),
        OrderItem.select().count(),
        OrderHistory.select().count(),
        Outbox.select().count(),
    ) == (0, 0, 0, 0)


def test_a_quote_is_the_order_as_it_would_be_placed_and_nothing_is_stored(client, taxed, ada):
    body = {'items': [{'product_id': 101, 'quantity': 2}], 'shipping_address': ILLINOIS}

    quote = send(client, 'POST', '/orders/quote', body, ada)
    quoted = json_of(quote)
    stock_after_quote = json_of(send(client, 'GET', '/products/101'))['stock']
    assert nothing_written()
    placed = json_of(send(client, 'POST', '/orders', body, ada))

    assert quote.status_code == 200
    assert all(quoted[name] is None for name in UNSET)
    assert stock_after_quote == {'on_hand': 2, 'reserved': 0, 'available': 2}
    assert (quoted['order_total'], quoted['tax_total']) == (63.73, 3.75)
    assert {name: value for name, value in placed.items() if name not in UNSET} == {
        **{name: value for name, value in quoted.items() if name not in UNSET},
        'items': [
            {**item, 'order_item_id': placed_item['order_item_id']}
            for item, placed_item in zip(quoted['items'], placed['items'], strict=True)
        ],
    }


def test_a_quote_gets_the_refusals_placing_the_order_would(client, taxed, ada):
    too_many = send(
        client, 'POST', '/orders/quote', {'items': [{'product_id': 101, 'quantity': 3}]}, ada
    )
    old_price = send(
        client,
        'POST',
        '/orders/quote',
        {'items': [{'product_id': 101, 'quantity': 1, 'price_at_order': 19.99}]},
        ada,
    )
    someone_else = send(client, 'POST', '/orders/quote', order_body(user_id=2), ada)

    assert error_of(too_many, 409, 'ConflictError')['errors']['items']['0']['quantity']
    assert error_of(old_price, 409, 'ConflictError')['errors']['items']['0']['price_at_order']
    error_of(someone_else, 403, 'ForbiddenError')
    assert nothing_written()


def test_an_expected_total_that_is_not_the_computed_one_is_a_409_naming_it(client, taxed, ada):
    body = {'items': [{'product_id': 101, 'quantity': 1}], 'shipping_address': ILLINOIS}

    stale = send(client, 'POST', '/orders', {**body, 'expected_total': Decimal('29.99')}, ada)
    quoted = send(client, 'POST', '/orders/quote', {**body, 'expected_total': 1}, ada)
    assert nothing_written()
    placed = send(client, 'POST', '/orders', {**body, 'expected_total': Decimal('31.86')}, ada)

    assert error_of(stale, 409, 'ConflictError')['errors'] == {
        'expected_total': ['The total is 31.86 USD.']
    }
    error_of(quoted, 409, 'ConflictError')
    assert placed.status_code == 201
    assert json_of(placed)['order_total'] == 31.86


def test_the_original_services_staff_body_still_gives_109_97(client):
    response = send(client, 'POST', '/orders/quote', order_body())

    assert json_of(response)['order_total'] == 109.97
