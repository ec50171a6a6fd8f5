"""The contract's endpoints, input rules and error rows, through chalice.test.Client,
on SQLite and MariaDB."""
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib.orders.idempotency import fingerprint
from chalicelib.storage.models import IdempotencyKey, Order, OrderItem, Outbox
from chalicelib.orders.schemas import parse_json_object
from tests.support import create_order, json_of, order_body, send, stored_key, to_json

ISO_Z = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z')


def error_of(response, status, code):
    assert response.status_code == status, response.body
    body = json_of(response)
    assert body['Code'] == code
    assert isinstance(body['Message'], str) and body['Message']
    assert 'Traceback' not in response.body.decode()
    return body


def item(product_id=1, quantity=1, price=1):
    return {'product_id': product_id, 'quantity': quantity, 'price_at_order': price}


def put(client, order_id, status, headers=None):
    return send(client, 'PUT', f'/orders/{order_id}', {'status': status}, headers)


# -- create and read ----------------------------------------------------------

def test_post_answers_201_with_location_etag_and_the_order(client):
    response = send(client, 'POST', '/orders', order_body(user_email='ada@example.com'))

    order = json_of(response)
    assert response.status_code == 201
    assert response.headers['Location'] == f"/orders/{order['order_id']}"
    assert response.headers['ETag'] == '"1"'
    assert order['status'] == 'pending' and order['version'] == 1
    assert order['order_total'] == 109.97
    assert ISO_Z.fullmatch(order['created_at']) and order['created_at'] == order['updated_at']
    assert [(i['product_id'], i['quantity'], i['price_at_order']) for i in order['items']] == [
        (101, 2, 29.99), (102, 1, 49.99)]
    assert all(isinstance(i['order_item_id'], int) for i in order['items'])


def test_get_unknown_order_is_404(client):
    error_of(client.http.get('/orders/999999'), 404, 'NotFoundError')


@pytest.mark.parametrize('path_id', ['abc', '0', '-1', '1.5', '9223372036854775808', '1e3'])
@pytest.mark.parametrize('method', ['GET', 'PUT', 'DELETE'])
def test_path_ids_that_are_not_positive_integers_are_400(client, method, path_id):
    response = send(client, method, f'/orders/{path_id}',
                    {'status': 'paid'} if method == 'PUT' else None)

    error_of(response, 400, 'BadRequestError')


def test_user_path_id_is_validated_too(client):
    error_of(client.http.get('/users/abc/orders'), 400, 'BadRequestError')


# -- exact money --------------------------------------------------------------

def test_tenths_and_fifths_add_up_exactly(client):
    order = create_order(client, items=[item(1, 3, 0.10), item(2, 1, 0.20)])

    assert order['order_total'] == 0.5
    assert Order.get_by_id(order['order_id']).order_total == Decimal('0.50')
    prices = [i.price_at_order for i in OrderItem.select().where(
        OrderItem.order == order['order_id'])]
    assert prices == [Decimal('0.10'), Decimal('0.20')]


def test_largest_price_is_stored_exactly(client):
    order = create_order(client, items=[item(1, 1, Decimal('99999999.99'))])

    assert order['order_total'] == 99999999.99
    assert Order.get_by_id(order['order_id']).order_total == Decimal('99999999.99')


def test_total_over_the_column_is_refused_and_nothing_stored(client):
    body = order_body(items=[item(1, 2, Decimal('99999999.99'))])

    error = error_of(send(client, 'POST', '/orders', body), 400, 'BadRequestError')

    assert 'items' in error['errors']
    assert Order.select().count() == 0


# -- input rules ----------------------------------------------------------------

BAD_BODIES = {
    'user_id string': ({'user_id': '1'}, 'user_id'),
    'user_id float': ({'user_id': 1.5}, 'user_id'),
    'user_id one point zero': ({'user_id': 1.0}, 'user_id'),
    'user_id bool': ({'user_id': True}, 'user_id'),
    'user_id zero': ({'user_id': 0}, 'user_id'),
    'user_id over bigint': ({'user_id': 2 ** 63}, 'user_id'),
    'user_id missing': ({'user_id': None}, 'user_id'),
    'no items': ({'items': []}, 'items'),
    'too many items': ({'items': [item(n + 1) for n in range(101)]}, 'items'),
    'items not a list': ({'items': {'0': item()}}, 'items'),
    'quantity zero': ({'items': [item(quantity=0)]}, 'items'),
    'quantity too big': ({'items': [item(quantity=10001)]}, 'items'),
    'quantity string': ({'items': [item(quantity='2')]}, 'items'),
    'product_id bool': ({'items': [item(product_id=True)]}, 'items'),
    'price three places': ({'items': [item(price=Decimal('29.999'))]}, 'items'),
    'price negative': ({'items': [item(price=-1)]}, 'items'),
    'price too big': ({'items': [item(price=Decimal('100000000.00'))]}, 'items'),
    'price string': ({'items': [item(price='1.00')]}, 'items'),
    'email invalid': ({'user_email': 'not-an-email'}, 'user_email'),
    'email too long': ({'user_email': 'a' * 250 + '@example.com'}, 'user_email'),
    'email control char': ({'user_email': 'a\r\nBcc: x@example.com'}, 'user_email'),
    'unknown field': ({'order_total': 1}, 'order_total'),
    'unknown item field': ({'items': [{**item(), 'discount': 1}]}, 'items'),
}


@pytest.mark.parametrize('name', sorted(BAD_BODIES))
def test_each_input_rule_refuses_with_400_keyed_by_field(client, name):
    change, field = BAD_BODIES[name]
    body = order_body()
    body.update(change)
    if body.get('user_id') is None:
        del body['user_id']

    error = error_of(send(client, 'POST', '/orders', body), 400, 'BadRequestError')

    assert error['Message'] == 'Invalid order'
    assert field in error['errors']
    assert Order.select().count() == 0


def test_errors_are_keyed_by_item_index(client):
    body = order_body(items=[item(), item(quantity=0, price=Decimal('29.999'))])

    error = error_of(send(client, 'POST', '/orders', body),
                     400, 'BadRequestError')

    assert error['errors'] == {'items': {'1': {
        'quantity': ['Must be greater than or equal to 1 and less than or equal to 10000.'],
        'price_at_order': ['Must have at most two decimal places.']}}}


def test_price_with_trailing_zero_third_place_is_accepted(client):
    response = send(client, 'POST', '/orders', order_body(items=[item(price=Decimal('29.990'))]))

    assert response.status_code == 201
    assert json_of(response)['order_total'] == 29.99


def test_email_is_optional_and_may_be_null(client):
    assert create_order(client)['user_email'] is None
    assert create_order(client, user_email=None)['user_email'] is None


@pytest.mark.parametrize('raw', ['{not json', '[1, 2]', '"text"', '', 'null',
                                 '{"user_id": NaN, "items": []}',
                                 '{"user_id": 1, "items": [{"product_id": 1, "quantity": 1, '
                                 '"price_at_order": Infinity}]}',
                                 '[' * 10000 + ']' * 10000])
def test_body_that_is_not_a_json_object_is_400(client, raw):
    error_of(send(client, 'POST', '/orders', raw=raw), 400, 'BadRequestError')


def test_huge_exponent_is_a_400_not_a_crash(client):
    raw = ('{"user_id": 1, "items": [{"product_id": 1, "quantity": 1, '
           '"price_at_order": 1e309}]}')

    error_of(send(client, 'POST', '/orders', raw=raw), 400, 'BadRequestError')


def test_body_over_256_kib_is_refused_in_the_contract_shape(client):
    body = order_body(user_email='a@example.com')
    body['padding'] = 'x' * (257 * 1024)

    error_of(send(client, 'POST', '/orders', body), 413, 'RequestEntityTooLargeError')
    assert Order.select().count() == 0


def test_non_json_content_type_is_chalice_415(client):
    response = client.http.post('/orders', headers={'Content-Type': 'text/plain'}, body='x')

    assert response.status_code == 415


# -- lifecycle, version, ETag, If-Match -------------------------------------------

@pytest.mark.parametrize('path', [
    ['paid'], ['shipped'], ['cancelled'], ['paid', 'shipped'], ['paid', 'cancelled'],
    ['shipped', 'delivered'], ['paid', 'shipped', 'delivered']])
def test_every_lifecycle_arrow_is_allowed_and_bumps_the_version(client, path):
    order = create_order(client)

    for version, status in enumerate(path, start=2):
        response = put(client, order['order_id'], status)
        assert response.status_code == 200, response.body
        assert json_of(response)['status'] == status
        assert json_of(response)['version'] == version
        assert response.headers['ETag'] == f'"{version}"'


@pytest.mark.parametrize('path, forbidden', [
    (['paid'], 'pending'), (['shipped'], 'paid'), (['shipped'], 'cancelled'),
    (['shipped', 'delivered'], 'pending'), (['cancelled'], 'paid'),
    ([], 'delivered')])
def test_forbidden_moves_are_409_naming_both_states(client, path, forbidden):
    order = create_order(client)
    for status in path:
        put(client, order['order_id'], status)
    current = path[-1] if path else 'pending'

    error = error_of(put(client, order['order_id'], forbidden), 409, 'ConflictError')

    assert current in error['Message'] and forbidden in error['Message']
    assert Order.get_by_id(order['order_id']).status == current


def test_same_status_is_200_and_changes_nothing(client):
    order = create_order(client)

    response = put(client, order['order_id'], 'pending')

    assert response.status_code == 200
    assert json_of(response)['version'] == 1
    assert json_of(response)['updated_at'] == order['updated_at']
    assert Outbox.select().count() == 1


def test_if_match_current_version_wins_and_stale_one_is_412(client):
    order = create_order(client)
    oid = order['order_id']

    assert put(client, oid, 'paid', {'If-Match': '"1"'}).status_code == 200
    error_of(put(client, oid, 'shipped', {'If-Match': '"1"'}), 412, 'PreconditionFailed')
    assert Order.get_by_id(oid).status == 'paid'
    error_of(put(client, oid, 'shipped', {'If-Match': 'W/"2"'}), 412, 'PreconditionFailed')
    assert put(client, oid, 'shipped', {'If-Match': '2'}).status_code == 200
    assert put(client, oid, 'delivered', {'If-Match': '*'}).status_code == 200


def test_malformed_if_match_is_400(client):
    order = create_order(client)

    error_of(put(client, order['order_id'], 'paid', {'If-Match': 'yesterday'}),
             400, 'BadRequestError')


@pytest.mark.parametrize('body', [{'status': 'lost'}, {'status': 1}, {},
                                  {'status': 'paid', 'version': 2}])
def test_put_body_is_validated(client, body):
    order = create_order(client)

    error_of(send(client, 'PUT', f"/orders/{order['order_id']}", body), 400, 'BadRequestError')


def test_put_unknown_order_is_404(client):
    error_of(put(client, 999999, 'paid'), 404, 'NotFoundError')


# -- delete ----------------------------------------------------------------------

def test_delete_is_204_empty_and_takes_the_items(client):
    order = create_order(client)

    response = send(client, 'DELETE', f"/orders/{order['order_id']}")

    assert response.status_code == 204 and response.body == b''
    error_of(client.http.get(f"/orders/{order['order_id']}"), 404, 'NotFoundError')
    assert OrderItem.select().where(OrderItem.order == order['order_id']).count() == 0
    error_of(send(client, 'DELETE', f"/orders/{order['order_id']}"), 404, 'NotFoundError')


def test_ids_are_never_reused_after_deleting_the_newest(client):
    first = create_order(client)
    send(client, 'DELETE', f"/orders/{first['order_id']}")

    second = create_order(client)

    assert second['order_id'] > first['order_id']
    assert min(i['order_item_id'] for i in second['items']) > max(
        i['order_item_id'] for i in first['items'])


def test_delete_event_carries_the_status_the_order_had(client):
    order = create_order(client)
    put(client, order['order_id'], 'paid')
    send(client, 'DELETE', f"/orders/{order['order_id']}")

    rows = list(Outbox.select().order_by(Outbox.id))

    assert [r.event_type for r in rows] == ['order_created', 'order_updated', 'order_deleted']
    assert json.loads(rows[-1].body)['status'] == 'paid'


# -- lists -----------------------------------------------------------------------

def ids_of(response):
    assert response.status_code == 200, response.body
    return [o['order_id'] for o in json_of(response)['orders']]


@pytest.fixture
def six_orders(client):
    """Six orders, users 1 and 2, statuses pending/paid; newest last."""
    orders = []
    for n in range(6):
        order = create_order(client, user_id=1 + n % 2)
        if n % 3 == 0:
            put(client, order['order_id'], 'paid')
        orders.append(order['order_id'])
    return orders


def test_list_is_newest_first_with_total_and_page_fields(client, six_orders):
    body = json_of(client.http.get('/orders'))

    assert [o['order_id'] for o in body['orders']] == six_orders[::-1]
    assert (body['total'], body['page'], body['page_size'], body['next_cursor']) == (
        6, 1, 10, None)


def test_list_filters_by_status_user_and_both(client, six_orders):
    paid = [six_orders[0], six_orders[3]]
    user2 = six_orders[1::2]

    assert ids_of(client.http.get('/orders?status=paid')) == paid[::-1]
    assert json_of(client.http.get('/orders?status=paid'))['total'] == 2
    assert ids_of(client.http.get('/orders?user_id=2')) == user2[::-1]
    assert json_of(client.http.get('/orders?user_id=2'))['total'] == 3
    both = json_of(client.http.get('/orders?user_id=2&status=paid'))
    assert [o['order_id'] for o in both['orders']] == [six_orders[3]] and both['total'] == 1
    assert ids_of(client.http.get('/orders?status=&user_id=')) == six_orders[::-1]


def test_totals_follow_status_changes_and_deletes(client, six_orders):
    put(client, six_orders[1], 'cancelled')
    send(client, 'DELETE', f'/orders/{six_orders[0]}')

    assert json_of(client.http.get('/orders'))['total'] == 5
    assert json_of(client.http.get('/orders?status=paid'))['total'] == 1
    assert json_of(client.http.get('/orders?status=cancelled'))['total'] == 1
    assert json_of(client.http.get('/orders?status=pending'))['total'] == 3


def test_pages_split_the_list_and_a_page_past_the_end_is_empty(client, six_orders):
    newest_first = six_orders[::-1]

    assert ids_of(client.http.get('/orders?page=1&page_size=4')) == newest_first[:4]
    assert ids_of(client.http.get('/orders?page=2&page_size=4')) == newest_first[4:]
    past = json_of(client.http.get('/orders?page=9&page_size=4'))
    assert past['orders'] == [] and past['total'] == 6
    assert ids_of(client.http.get('/orders?page_size=1')) == newest_first[:1]
    assert ids_of(client.http.get('/orders?page_size=100')) == newest_first


@pytest.mark.parametrize('query', ['page_size=0', 'page_size=101', 'page=0', 'page=-1',
                                   'page=abc', 'page=1.5', 'page=%2B1', 'page_size=1_0',
                                   'page=100000000000000000000', 'status=lost',
                                   'user_id=0', 'user_id=9223372036854775808',
                                   'colour=red', 'cursor=%%%'])
def test_bad_list_parameters_are_400_never_clamped(client, query):
    error_of(client.http.get(f'/orders?{query}'), 400, 'BadRequestError')


def test_offset_that_overflows_is_400(client):
    error_of(client.http.get('/orders?page=9223372036854775807&page_size=100'),
             400, 'BadRequestError')


def test_user_with_no_orders_gets_an_empty_list(client):
    body = json_of(client.http.get('/users/424242/orders'))

    assert body == {'orders': [], 'total': 0, 'page': 1, 'page_size': 10, 'next_cursor': None}


def test_user_orders_are_only_that_users_newest_first(client, six_orders):
    body = json_of(client.http.get('/users/1/orders?page_size=2'))

    assert [o['order_id'] for o in body['orders']] == six_orders[0::2][::-1][:2]
    assert all(o['user_id'] == 1 for o in body['orders'])
    assert body['total'] == 3 and body['next_cursor']


# -- keyset paging ----------------------------------------------------------------

def walk(client, first_url, cursor_url):
    body = json_of(client.http.get(first_url))
    seen = [o['order_id'] for o in body['orders']]
    while body['next_cursor']:
        body = json_of(client.http.get(cursor_url.format(body['next_cursor'])))
        assert body['page'] is None
        seen += [o['order_id'] for o in body['orders']]
    return seen


def test_following_cursors_visits_every_order_once_in_order(client, six_orders):
    seen = walk(client, '/orders?page_size=4', '/orders?page_size=4&cursor={}')

    assert seen == six_orders[::-1]


def test_cursor_keeps_the_filters_it_was_made_with(client, six_orders):
    seen = walk(client, '/orders?user_id=1&page_size=1', '/orders?page_size=1&cursor={}')
    assert seen == six_orders[0::2][::-1]
    seen = walk(client, '/users/2/orders?page_size=2', '/users/2/orders?page_size=2&cursor={}')
    assert seen == six_orders[1::2][::-1]


def test_orders_created_meanwhile_do_not_shift_the_next_pages(client, six_orders):
    first = json_of(client.http.get('/orders?page_size=3'))
    create_order(client)
    create_order(client)

    second = json_of(client.http.get(f"/orders?page_size=3&cursor={first['next_cursor']}"))

    assert [o['order_id'] for o in second['orders']] == six_orders[::-1][3:]


def test_cursor_with_page_or_other_filter_is_400_same_filter_is_fine(client, six_orders):
    cursor = json_of(client.http.get('/orders?status=pending&page_size=1'))['next_cursor']

    error_of(client.http.get(f'/orders?cursor={cursor}&page=2'), 400, 'BadRequestError')
    error_of(client.http.get(f'/orders?cursor={cursor}&status=paid'), 400, 'BadRequestError')
    assert client.http.get(f'/orders?cursor={cursor}&status=pending').status_code == 200


@pytest.mark.parametrize('cursor', ['abc', 'eyJhZnRlciI6MH0', 'eyJhZnRlciI6Im9uZSJ9', 'W10'])
def test_malformed_cursor_is_400(client, cursor):
    error_of(client.http.get(f'/orders?cursor={cursor}'), 400, 'BadRequestError')


# -- idempotency --------------------------------------------------------------------

def hash_of(body):
    """The fingerprint the service computes for this body as sent."""
    return fingerprint(parse_json_object(to_json(body).encode()))


def test_same_key_and_body_replays_the_stored_answer(client):
    headers = {'Idempotency-Key': 'key-1'}
    first = send(client, 'POST', '/orders', order_body(), headers)

    again = send(client, 'POST', '/orders', order_body(), headers)

    assert again.status_code == 201
    assert json_of(again) == json_of(first)
    assert again.headers['Idempotent-Replayed'] == 'true'
    assert 'Idempotent-Replayed' not in first.headers
    assert again.headers['Location'] == first.headers['Location']
    assert Order.select().count() == 1 and Outbox.select().count() == 1


def test_same_key_with_another_body_is_422(client):
    send(client, 'POST', '/orders', order_body(), {'Idempotency-Key': 'key-2'})

    error_of(send(client, 'POST', '/orders', order_body(user_id=2), {'Idempotency-Key': 'key-2'}),
             422, 'UnprocessableEntityError')
    assert Order.select().count() == 1


def test_key_still_in_flight_is_409(client, service_clock):
    body = order_body()
    IdempotencyKey.create(key=stored_key('key-3'), request_hash=hash_of(body),
                          created_at=service_clock.now)

    error_of(send(client, 'POST', '/orders', body, {'Idempotency-Key': 'key-3'}),
             409, 'ConflictError')
    assert Order.select().count() == 0


def test_abandoned_in_flight_key_is_taken_over_after_its_lease(client, service_clock):
    body = order_body()
    IdempotencyKey.create(key=stored_key('key-4'), request_hash=hash_of(body),
                          created_at=service_clock.now - timedelta(minutes=10))

    assert send(client, 'POST', '/orders', body, {'Idempotency-Key': 'key-4'}).status_code == 201


def test_key_older_than_24_hours_is_new_again(client, service_clock):
    send(client, 'POST', '/orders', order_body(), {'Idempotency-Key': 'key-5'})
    service_clock.advance(timedelta(hours=25))

    response = send(client, 'POST', '/orders', order_body(user_id=9), {'Idempotency-Key': 'key-5'})

    assert response.status_code == 201 and 'Idempotent-Replayed' not in response.headers
    assert Order.select().count() == 2


@pytest.mark.parametrize('key', ['k' * 256, 'tab\tkey', 'caf\u00e9'])
def test_bad_idempotency_key_is_400(client, key):
    response = send(client, 'POST', '/orders', order_body(), {'Idempotency-Key': key})

    error_of(response, 400, 'BadRequestError')
    assert Order.select().count() == 0


def test_invalid_body_does_not_burn_the_key(client):
    headers = {'Idempotency-Key': 'key-6'}
    error_of(send(client, 'POST', '/orders', {'user_id': 1}, headers), 400, 'BadRequestError')

    assert send(client, 'POST', '/orders', order_body(), headers).status_code == 201


# -- health ------------------------------------------------------------------------

def test_health_says_ok_with_the_database(client):
    response = client.http.get('/health')

    assert response.status_code == 200
    assert json_of(response) == {'status': 'ok', 'database': 'ok'}
