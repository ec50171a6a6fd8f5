"""Idempotent creation with the Idempotency-Key header, on SQLite and MariaDB."""

import json
from datetime import timedelta

import pytest

from chalicelib.orders.idempotency import IN_FLIGHT_LEASE, fingerprint
from chalicelib.orders.schemas import parse_json_object
from chalicelib.storage.models import IdempotencyKey, Order, Outbox
from tests.support import error_of, field_errors, json_of, order_body, send, stored_key, to_json


def post(client, body, key):
    return send(client, 'POST', '/orders', body, {'Idempotency-Key': key})


def total_orders(client):
    response = client.http.get('/orders')
    assert response.status_code == 200
    return json_of(response)['total']


def claim_in_flight(clock, body, key, age=timedelta(0)):
    """What the first request leaves while it is still being processed: its
    claim, `age` before the service's now, with the fingerprint the service
    takes of the body as parsed."""
    IdempotencyKey.create(
        key=stored_key(key),
        request_hash=fingerprint(parse_json_object(to_json(body))),
        response_body=None,
        created_at=clock.now - age,
    )


def test_first_post_with_a_key_creates_the_order(client):
    response = post(client, order_body(), 'key-1')

    assert response.status_code == 201
    assert 'Idempotent-Replayed' not in response.headers
    assert total_orders(client) == 1


def test_repeat_with_same_key_and_body_replays_the_first_answer(client):
    first = post(client, order_body(), 'key-1')

    again = post(client, order_body(), 'key-1')

    assert again.status_code == 201
    assert json_of(again) == json_of(first)
    assert again.headers['Idempotent-Replayed'] == 'true'
    assert again.headers['Location'] == first.headers['Location']
    assert again.headers['ETag'] == first.headers['ETag']
    assert total_orders(client) == 1
    assert Order.select().count() == 1


def test_replay_creates_no_second_event(client):
    post(client, order_body(), 'key-1')

    post(client, order_body(), 'key-1')
    post(client, order_body(), 'key-1')

    assert Outbox.select().count() == 1


def test_replay_matches_the_same_json_object_written_with_keys_in_another_order(client):
    body = order_body()
    first = post(client, body, 'key-1')
    reordered = json.dumps(dict(reversed(list(body.items()))))

    again = send(client, 'POST', '/orders', raw=reordered, headers={'Idempotency-Key': 'key-1'})

    assert again.status_code == 201
    assert json_of(again) == json_of(first)
    assert total_orders(client) == 1


def test_same_key_with_a_different_body_returns_422(client):
    post(client, order_body(user_id=1), 'key-1')

    response = post(client, order_body(user_id=2), 'key-1')

    error_of(response, 422, 'UnprocessableEntityError')
    assert total_orders(client) == 1


def test_a_deleted_orders_key_is_forgotten_and_a_repeat_creates_a_new_order(client):
    first = json_of(post(client, order_body(), 'key-1'))
    assert (
        IdempotencyKey.get(IdempotencyKey.key == stored_key('key-1')).order_id == first['order_id']
    )
    assert client.http.delete(f'/orders/{first["order_id"]}').status_code == 204

    again = post(client, order_body(), 'key-1')

    assert again.status_code == 201
    assert 'Idempotent-Replayed' not in again.headers
    assert json_of(again)['order_id'] != first['order_id']
    assert again.headers['Location'] == f'/orders/{json_of(again)["order_id"]}'
    assert total_orders(client) == 1


def test_deleting_an_order_leaves_the_keys_of_other_orders(client):
    first = json_of(post(client, order_body(user_id=1), 'key-1'))
    second = post(client, order_body(user_id=2), 'key-2')
    client.http.delete(f'/orders/{first["order_id"]}')

    again = post(client, order_body(user_id=2), 'key-2')

    assert again.headers['Idempotent-Replayed'] == 'true'
    assert json_of(again) == json_of(second)
    assert [key.key for key in IdempotencyKey.select()] == [stored_key('key-2')]


def test_different_keys_create_different_orders(client):
    first = json_of(post(client, order_body(), 'key-1'))

    second = json_of(post(client, order_body(), 'key-2'))

    assert second['order_id'] != first['order_id']
    assert total_orders(client) == 2


def test_posts_without_a_key_are_never_deduplicated(client):
    send(client, 'POST', '/orders', order_body())
    send(client, 'POST', '/orders', order_body())

    assert total_orders(client) == 2


def test_key_of_255_characters_is_accepted(client):
    response = post(client, order_body(), 'k' * 255)

    assert response.status_code == 201
    assert post(client, order_body(), 'k' * 255).headers['Idempotent-Replayed'] == 'true'


def test_key_of_256_characters_returns_400_and_creates_nothing(client):
    response = post(client, order_body(), 'k' * 256)

    assert set(field_errors(response)) == {'Idempotency-Key'}
    assert total_orders(client) == 0


def test_empty_key_returns_400(client):
    response = post(client, order_body(), '')

    assert set(field_errors(response)) == {'Idempotency-Key'}
    assert total_orders(client) == 0


def test_invalid_body_with_a_key_returns_400_and_leaves_the_key_free(client):
    bad = post(
        client, order_body(items=[{'product_id': 1, 'quantity': 0, 'price_at_order': 1}]), 'key-1'
    )

    good = post(client, order_body(), 'key-1')

    assert bad.status_code == 400
    assert good.status_code == 201
    assert 'Idempotent-Replayed' not in good.headers


def test_key_still_in_flight_returns_409_and_creates_nothing(client, service_clock):
    body = order_body()
    claim_in_flight(service_clock, body, 'key-1')

    response = post(client, body, 'key-1')

    error_of(response, 409, 'ConflictError')
    assert total_orders(client) == 0


def test_key_in_flight_past_its_lease_is_taken_over(client, service_clock):
    body = order_body()
    claim_in_flight(service_clock, body, 'key-1', age=IN_FLIGHT_LEASE + timedelta(minutes=1))

    response = post(client, body, 'key-1')

    assert response.status_code == 201, response.body
    assert 'Idempotent-Replayed' not in response.headers
    assert total_orders(client) == 1


def test_key_in_flight_with_a_different_body_returns_422(client, service_clock):
    claim_in_flight(service_clock, order_body(user_id=1), 'key-1')

    response = post(client, order_body(user_id=2), 'key-1')

    error_of(response, 422, 'UnprocessableEntityError')


def test_expired_key_is_treated_as_new(client, service_clock):
    body = order_body()
    stale = {'order_id': 1, 'status': 'pending'}
    IdempotencyKey.create(
        key=stored_key('key-1'),
        request_hash=fingerprint(parse_json_object(to_json(body))),
        response_body=json.dumps(stale),
        created_at=service_clock.now - timedelta(hours=25),
    )

    response = post(client, body, 'key-1')

    assert response.status_code == 201
    assert 'Idempotent-Replayed' not in response.headers
    assert json_of(response) != stale
    assert total_orders(client) == 1
    assert post(client, body, 'key-1').headers['Idempotent-Replayed'] == 'true'


def test_expired_key_with_a_different_body_is_treated_as_new(client, service_clock):
    IdempotencyKey.create(
        key=stored_key('key-1'),
        request_hash='0' * 64,
        response_body='{}',
        created_at=service_clock.now - timedelta(hours=25),
    )

    response = post(client, order_body(), 'key-1')

    assert response.status_code == 201
    assert total_orders(client) == 1


def test_key_within_24_hours_still_replays(client, service_clock):
    first = post(client, order_body(), 'key-1')
    service_clock.advance(timedelta(hours=23))

    again = post(client, order_body(), 'key-1')

    assert again.headers['Idempotent-Replayed'] == 'true'
    assert json_of(again) == json_of(first)


def test_replay_returns_the_stored_answer_even_after_the_order_changed(client):
    first = json_of(post(client, order_body(), 'key-1'))
    send(client, 'PUT', f'/orders/{first["order_id"]}', {'status': 'paid'})

    again = post(client, order_body(), 'key-1')

    assert again.status_code == 201
    assert json_of(again) == first


@pytest.mark.parametrize('first,second', [('Key-1', 'key-1'), ('key-1', 'key-1 ')])
def test_keys_that_differ_in_case_or_trailing_space_are_different_keys(
    client, request, first, second
):
    created = post(client, order_body(), first)

    response = post(client, order_body(), second)

    assert response.status_code == 201
    assert 'Idempotent-Replayed' not in response.headers
    assert json_of(response)['order_id'] != json_of(created)['order_id']
    assert total_orders(client) == 2


@pytest.mark.parametrize('key', ['key\t1', 'caf\u00e9'])
def test_key_that_is_not_printable_ascii_returns_400(client, key):
    response = post(client, order_body(), key)

    assert set(field_errors(response)) == {'Idempotency-Key'}
    assert total_orders(client) == 0
