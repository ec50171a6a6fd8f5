"""Single-order endpoints through HTTP, on SQLite and MariaDB: create, read,
status changes along the lifecycle, versions and If-Match, delete, exact money,
timestamps, and health (PUT bodies the schema refuses, on SQLite only)."""

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.storage.models import Order, OrderItem
from tests.support import (
    FROZEN_AT,
    HEALTHY,
    create_order,
    error_of,
    iso,
    item,
    json_of,
    order_body,
    order_in,
    put,
    send,
    sqlite_only,
)

ISO_Z = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z')
ARROWS = [
    ('pending', 'paid'),
    ('pending', 'shipped'),
    ('pending', 'cancelled'),
    ('paid', 'shipped'),
    ('paid', 'cancelled'),
    ('shipped', 'delivered'),
]
STATUSES = ('pending', 'paid', 'shipped', 'delivered', 'cancelled')
FORBIDDEN = [(a, b) for a in STATUSES for b in STATUSES if a != b and (a, b) not in ARROWS]


def exact_json(response):
    """The response body with every number as the exact digits sent."""
    return json.loads(response.body, parse_float=Decimal)


# -- create ---------------------------------------------------------------------


def test_post_returns_201_with_the_new_order(client):
    response = send(client, 'POST', '/orders', order_body(user_id=7, user_email='ada@example.com'))

    order = json_of(response)
    assert response.status_code == 201
    assert set(order) == {
        'order_id',
        'user_id',
        'user_email',
        'status',
        'order_total',
        'created_at',
        'updated_at',
        'version',
        'currency',
        'shipment',
        'payment',
        'items',
        'subtotal',
        'discount_total',
        'shipping_total',
        'tax_total',
        'prices_include_tax',
        'shipping_address',
        'billing_address',
        'shipping',
        'discount',
    }
    assert order['shipment'] is None  # until it ships
    assert order['payment'] == {
        'status': 'unpaid',
        'amount_paid': 0,
        'amount_refunded': 0,
        'provider': None,
        'reference': None,
    }
    assert order['user_id'] == 7
    assert order['user_email'] == 'ada@example.com'
    assert order['status'] == 'pending'
    assert order['version'] == 1
    # With no address, shipping, tax or discount the total is the subtotal, as it always was.
    assert order['order_total'] == order['subtotal'] == 109.97
    assert (order['discount_total'], order['shipping_total'], order['tax_total']) == (0, 0, 0)
    assert (order['shipping'], order['discount'], order['shipping_address']) == (None, None, None)
    assert [(i['product_id'], i['quantity'], i['price_at_order']) for i in order['items']] == [
        (101, 2, 29.99),
        (102, 1, 49.99),
    ]
    assert order['currency'] == 'USD'
    assert all(
        set(i)
        == {
            'order_item_id',
            'product_id',
            'sku',
            'name',
            'quantity',
            'price_at_order',
            'discount',
            'tax',
            'tax_rate',
        }
        and (i['discount'], i['tax'], i['tax_rate']) == (0, 0, 0)
        for i in order['items']
    )
    assert all(type(i['order_item_id']) is int for i in order['items'])


def test_post_sets_location_and_etag_headers(client):
    response = send(client, 'POST', '/orders', order_body())

    order = json_of(response)
    assert response.headers['Location'] == f'/orders/{order["order_id"]}'
    assert response.headers['ETag'] == '"1"'


def test_post_without_email_stores_null_email(client):
    order = create_order(client)

    assert order['user_email'] is None
    assert json_of(client.http.get(f'/orders/{order["order_id"]}'))['user_email'] is None


def test_post_with_json_content_type_parameters_is_accepted(client):
    response = client.http.post(
        '/orders',
        body=json.dumps(order_body()),
        headers={'Content-Type': 'application/json; charset=utf-8'},
    )

    assert response.status_code == 201


def test_posted_orders_get_distinct_increasing_ids(client):
    first = create_order(client)
    second = create_order(client)

    assert second['order_id'] > first['order_id']
    first_items = {i['order_item_id'] for i in first['items']}
    second_items = {i['order_item_id'] for i in second['items']}
    assert min(second_items) > max(first_items)


@pytest.mark.parametrize(
    'moment, written',
    [
        (FROZEN_AT, '2030-01-01T00:00:05.000000Z'),
        (datetime(2031, 9, 9, 9, 9, 9, 90909), '2031-09-09T09:09:09.090909Z'),
    ],
)
def test_timestamps_are_utc_iso_with_z_and_six_digit_microseconds(
    client, service_clock, moment, written
):
    service_clock.now = moment

    order = create_order(client)

    assert ISO_Z.fullmatch(order['created_at'])
    assert order['created_at'] == order['updated_at'] == written
    got = json_of(client.http.get(f'/orders/{order["order_id"]}'))
    assert (got['created_at'], got['updated_at']) == (written, written)


# -- read -----------------------------------------------------------------------


def test_get_returns_the_order_as_created_with_etag(client):
    created = create_order(client, user_email='ada@example.com')

    response = client.http.get(f'/orders/{created["order_id"]}')

    assert response.status_code == 200
    assert json_of(response) == created
    assert response.headers['ETag'] == '"1"'


def test_get_missing_order_returns_404(client):
    created = create_order(client)

    response = client.http.get(f'/orders/{created["order_id"] + 1000}')

    body = error_of(response, 404, 'NotFoundError')
    assert set(body) == {'Code', 'Message'}


def test_put_missing_order_returns_404(client):
    created = create_order(client)

    error_of(put(client, created['order_id'] + 1000, 'paid'), 404, 'NotFoundError')


def test_put_missing_order_with_if_match_returns_404(client):
    created = create_order(client)

    response = put(client, created['order_id'] + 1000, 'paid', {'If-Match': '"1"'})

    error_of(response, 404, 'NotFoundError')


def test_delete_missing_order_returns_404(client):
    created = create_order(client)

    error_of(client.http.delete(f'/orders/{created["order_id"] + 1000}'), 404, 'NotFoundError')


# -- lifecycle ------------------------------------------------------------------


@pytest.mark.parametrize('current,new', ARROWS)
def test_put_along_a_lifecycle_arrow_returns_200_with_the_new_status(client, current, new):
    order = order_in(client, current)

    response = put(client, order['order_id'], new)

    changed = json_of(response)
    assert response.status_code == 200
    assert changed['status'] == new
    assert changed['version'] == order['version'] + 1
    assert response.headers['ETag'] == f'"{changed["version"]}"'
    assert json_of(client.http.get(f'/orders/{order["order_id"]}')) == changed


def test_put_forbidden_transition_returns_409_naming_both_states(client, subtests):
    orders = {status: order_in(client, status) for status in STATUSES}

    for current, new in FORBIDDEN:
        with subtests.test(f'{current} -> {new}'):
            order = orders[current]

            response = put(client, order['order_id'], new)

            body = error_of(response, 409, 'ConflictError')
            assert f"'{current}'" in body['Message'] and f"'{new}'" in body['Message']
            assert json_of(client.http.get(f'/orders/{order["order_id"]}')) == order


def test_put_same_status_returns_200_and_changes_nothing(client, subtests):
    for status in STATUSES:
        with subtests.test(status):
            order = order_in(client, status)

            response = put(client, order['order_id'], status)

            assert response.status_code == 200
            assert json_of(response) == order
            assert response.headers['ETag'] == f'"{order["version"]}"'
            assert json_of(client.http.get(f'/orders/{order["order_id"]}')) == order


def test_version_grows_by_one_per_change_and_etag_follows(client):
    order = create_order(client)
    versions = [order['version']]
    etags = []

    for status in ('paid', 'shipped', 'delivered'):
        response = put(client, order['order_id'], status)
        versions.append(json_of(response)['version'])
        etags.append(response.headers['ETag'])
        get = client.http.get(f'/orders/{order["order_id"]}')
        assert get.headers['ETag'] == response.headers['ETag']

    assert versions == [1, 2, 3, 4]
    assert etags == ['"2"', '"3"', '"4"']


def test_put_moves_updated_at_and_keeps_created_at(client, service_clock):
    order = create_order(client)
    service_clock.advance(timedelta(microseconds=1))  # the least a timestamp shows

    changed = json_of(put(client, order['order_id'], 'paid'))

    assert changed['created_at'] == order['created_at'] == iso(FROZEN_AT)
    assert ISO_Z.fullmatch(changed['updated_at'])
    assert changed['updated_at'] == iso(FROZEN_AT + timedelta(microseconds=1))
    assert changed['updated_at'] > order['updated_at']
    assert json_of(client.http.get(f'/orders/{order["order_id"]}')) == changed


def test_put_keeps_items_and_total(client):
    order = create_order(client)

    changed = json_of(put(client, order['order_id'], 'paid'))

    assert changed['items'] == order['items']
    assert changed['order_total'] == order['order_total']


# -- If-Match -------------------------------------------------------------------


@pytest.mark.parametrize('etag', ['"1"', '1'])
def test_put_with_matching_if_match_quoted_or_not_returns_200(client, etag):
    order = create_order(client)

    response = put(client, order['order_id'], 'paid', {'If-Match': etag})

    assert response.status_code == 200
    assert json_of(response)['version'] == 2


def test_put_with_stale_if_match_returns_412_and_changes_nothing(client):
    order = create_order(client)
    paid = json_of(put(client, order['order_id'], 'paid'))

    response = put(client, order['order_id'], 'shipped', {'If-Match': '"1"'})

    error_of(response, 412, 'PreconditionFailed')
    assert json_of(client.http.get(f'/orders/{order["order_id"]}')) == paid


def test_put_with_if_match_from_a_later_version_returns_412(client):
    order = create_order(client)

    response = put(client, order['order_id'], 'paid', {'If-Match': '"7"'})

    error_of(response, 412, 'PreconditionFailed')


def test_put_with_a_weak_if_match_returns_412_even_for_the_current_version(client):
    order = create_order(client)

    response = put(client, order['order_id'], 'paid', {'If-Match': 'W/"1"'})

    error_of(response, 412, 'PreconditionFailed')
    assert json_of(client.http.get(f'/orders/{order["order_id"]}')) == order


def test_put_with_if_match_star_skips_the_version_check(client):
    order = create_order(client)
    put(client, order['order_id'], 'paid')

    response = put(client, order['order_id'], 'shipped', {'If-Match': '*'})

    assert response.status_code == 200
    assert json_of(response)['version'] == 3


def test_etag_of_each_answer_is_the_if_match_for_the_next_change(client):
    response = send(client, 'POST', '/orders', order_body())
    order_id = json_of(response)['order_id']

    for status in ('paid', 'shipped', 'delivered'):
        response = put(client, order_id, status, {'If-Match': response.headers['ETag']})
        assert response.status_code == 200, response.body

    assert json_of(response)['version'] == 4


def test_put_with_malformed_if_match_returns_400(client, subtests):
    order = create_order(client)

    for etag in ['abc', '"one"', 'W/', '"-1"', '"1.0"', '""', '"1', '1"']:
        with subtests.test(etag):
            response = put(client, order['order_id'], 'paid', {'If-Match': etag})

            body = error_of(response, 400, 'BadRequestError')
            assert 'If-Match' in body['errors']
            assert json_of(client.http.get(f'/orders/{order["order_id"]}')) == order


# -- PUT body -------------------------------------------------------------------


@sqlite_only
def test_put_with_invalid_status_returns_400_on_status(client, subtests):
    order = create_order(client)

    for body in [{'status': 'lost'}, {'status': 'PAID'}, {'status': None}, {'status': 1}, {}]:
        with subtests.test(body=body):
            response = send(client, 'PUT', f'/orders/{order["order_id"]}', body)

            assert set(error_of(response, 400, 'BadRequestError')['errors']) == {'status'}
            assert json_of(client.http.get(f'/orders/{order["order_id"]}')) == order


@sqlite_only
def test_put_with_unknown_field_returns_400(client):
    order = create_order(client)

    response = send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'paid', 'user_id': 2})

    assert error_of(response, 400, 'BadRequestError')['errors'] == {'user_id': ['Unknown field.']}
    assert json_of(client.http.get(f'/orders/{order["order_id"]}'))['status'] == 'pending'


# -- delete ---------------------------------------------------------------------


def test_delete_returns_204_with_an_empty_body(client):
    order = create_order(client)

    response = client.http.delete(f'/orders/{order["order_id"]}')

    assert response.status_code == 204
    assert response.body in (b'', None)


def test_deleted_order_is_gone_with_its_items(client):
    order = create_order(client)
    kept = create_order(client)

    client.http.delete(f'/orders/{order["order_id"]}')

    error_of(client.http.get(f'/orders/{order["order_id"]}'), 404, 'NotFoundError')
    assert OrderItem.select().where(OrderItem.order == order['order_id']).count() == 0
    assert OrderItem.select().where(OrderItem.order == kept['order_id']).count() == 2
    assert client.http.get(f'/orders/{kept["order_id"]}').status_code == 200


def test_deleting_twice_returns_404_the_second_time(client):
    order = create_order(client)
    client.http.delete(f'/orders/{order["order_id"]}')

    response = client.http.delete(f'/orders/{order["order_id"]}')

    error_of(response, 404, 'NotFoundError')


def test_put_after_delete_returns_404(client):
    order = create_order(client)
    client.http.delete(f'/orders/{order["order_id"]}')

    error_of(put(client, order['order_id'], 'paid'), 404, 'NotFoundError')


def test_an_order_in_any_status_can_be_deleted(client, subtests):
    for status in STATUSES:
        with subtests.test(status):
            order = order_in(client, status)

            assert client.http.delete(f'/orders/{order["order_id"]}').status_code == 204
            assert client.http.get(f'/orders/{order["order_id"]}').status_code == 404


def test_ids_are_never_reused_after_deleting_the_newest_order(client):
    create_order(client)
    newest = create_order(client)
    client.http.delete(f'/orders/{newest["order_id"]}')

    again = create_order(client)

    assert again['order_id'] > newest['order_id']
    assert min(i['order_item_id'] for i in again['items']) > max(
        i['order_item_id'] for i in newest['items']
    )


def test_ids_are_never_reused_after_deleting_every_order(client):
    only = create_order(client)
    client.http.delete(f'/orders/{only["order_id"]}')

    again = create_order(client)

    assert again['order_id'] > only['order_id']


# -- exact money ----------------------------------------------------------------


def test_tenths_add_up_exactly_through_http(client):
    response = send(
        client,
        'POST',
        '/orders',
        order_body(items=[item(1, 3, Decimal('0.10')), item(2, 1, Decimal('0.20'))]),
    )

    assert response.status_code == 201
    order = exact_json(response)
    assert order['order_total'] == Decimal('0.5')
    assert json_of(response)['order_total'] == 0.5
    assert [i['price_at_order'] for i in order['items']] == [Decimal('0.1'), Decimal('0.2')]


def test_one_tenth_plus_two_tenths_is_three_tenths_never_a_float_sum(client):
    response = send(
        client,
        'POST',
        '/orders',
        order_body(items=[item(1, 1, Decimal('0.10')), item(2, 1, Decimal('0.20'))]),
    )

    # The digits written for the total itself, not a search of the whole body.
    assert json.loads(response.body, parse_float=str)['order_total'] == '0.3'
    assert exact_json(response)['order_total'] == Decimal('0.3')


def test_stored_total_and_prices_are_exact_decimals(client):
    order = json_of(
        send(
            client,
            'POST',
            '/orders',
            order_body(items=[item(1, 3, Decimal('0.10')), item(2, 1, Decimal('0.20'))]),
        )
    )

    stored = Order.get_by_id(order['order_id'])
    assert isinstance(stored.order_total, Decimal)
    assert str(stored.order_total) == '0.50'
    prices = [
        str(i.price_at_order)
        for i in OrderItem.select()
        .where(OrderItem.order == order['order_id'])
        .order_by(OrderItem.order_item_id)
    ]
    assert prices == ['0.10', '0.20']


def test_largest_price_gives_the_largest_total_exactly(client):
    response = send(
        client, 'POST', '/orders', order_body(items=[item(1, 1, Decimal('99999999.99'))])
    )

    assert response.status_code == 201, response.body
    order = exact_json(response)
    assert order['order_total'] == Decimal('99999999.99')
    assert order['items'][0]['price_at_order'] == Decimal('99999999.99')
    assert str(Order.get_by_id(order['order_id']).order_total) == '99999999.99'
    assert exact_json(client.http.get(f'/orders/{order["order_id"]}'))['order_total'] == Decimal(
        '99999999.99'
    )


def test_money_is_sent_with_at_most_two_decimals(client):
    response = send(
        client,
        'POST',
        '/orders',
        order_body(
            items=[
                item(1, 7, Decimal('0.07')),
                item(2, 3, Decimal('33.33')),
                item(3, 1, Decimal('12345678.91')),
            ]
        ),
    )

    order = exact_json(response)
    amounts = [order['order_total']] + [i['price_at_order'] for i in order['items']]
    assert all(amount.as_tuple().exponent >= -2 for amount in amounts)
    assert order['order_total'] == Decimal('12345779.39')


# -- health ---------------------------------------------------------------------


def test_health_reports_ok_with_the_database(client):
    response = client.http.get('/health')

    assert response.status_code == 200
    assert json_of(response) == HEALTHY
