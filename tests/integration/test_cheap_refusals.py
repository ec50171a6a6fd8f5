"""A refusal costs little whoever built the request: a body over 64 KiB is a
413 before it is parsed, a list over its limit is a 400 before its entries
are read, an error answer lists at most 100 problems, and free text with a
lone surrogate, a control or a bidirectional control is a 400, never a 500
(on SQLite and MariaDB: the surrogate used to crash the history insert)."""

import json

import pytest

from chalicelib.storage.models import Order, OrderHistory, OrderItem
from tests.support import create_order, error_of, field_errors, send, sqlite_only

COMPACT = (',', ':')


def messages(errors):
    if isinstance(errors, list):
        return errors
    return [message for value in errors.values() for message in messages(value)]


@sqlite_only
def test_the_87374_empty_items_request_is_a_small_413(client):
    raw = json.dumps({'items': [{}] * 87374}, separators=COMPACT)
    assert len(raw) == 262133

    response = send(client, 'POST', '/orders', raw=raw)

    error_of(response, 413, 'RequestEntityTooLargeError')
    assert len(response.body) < 200


@sqlite_only
def test_a_body_just_over_64_kib_is_a_413_and_one_of_64_kib_is_read(client):
    def padded(size):
        raw = '{"items":[],"pad":"%s"}' % ('x' * (size - 21))
        assert len(raw) == size
        return raw

    error_of(
        send(client, 'POST', '/orders', raw=padded(64 * 1024 + 1)),
        413,
        'RequestEntityTooLargeError',
    )
    assert set(field_errors(send(client, 'POST', '/orders', raw=padded(64 * 1024)))) == {
        'pad',
        'items',
    }


@sqlite_only
def test_ten_thousand_items_within_64_kib_are_one_problem_not_ten_thousand(client):
    raw = json.dumps({'items': [{}] * 10000}, separators=COMPACT)

    response = send(client, 'POST', '/orders', raw=raw)

    assert field_errors(response) == {'items': ['Length must be between 1 and 100.']}
    assert len(response.body) < 200
    assert Order.select().count() == 0


@sqlite_only
def test_ten_thousand_refund_items_are_one_problem_not_ten_thousand(client):
    raw = json.dumps({'items': [{}] * 10000}, separators=COMPACT)

    response = send(client, 'POST', '/orders/1/refunds', raw=raw)

    assert field_errors(response) == {'items': ['Length must be between 1 and 100.']}
    assert len(response.body) < 200


@sqlite_only
def test_an_error_answer_lists_100_problems_and_says_how_many_there_were(client):
    line = {'product_id': 0, 'quantity': 0, 'price_at_order': -1}

    response = send(client, 'POST', '/orders', {'user_id': 1, 'items': [line] * 100})

    body = error_of(response, 400, 'BadRequestError')
    assert len(messages(body['errors'])) == 100
    assert body['Message'] == 'Invalid order (300 problems; the first 100 are listed)'


@sqlite_only
def test_thousands_of_unknown_fields_answer_at_most_100(client):
    raw = json.dumps({f'field{number}': 0 for number in range(3000)}, separators=COMPACT)

    response = send(client, 'POST', '/orders', raw=raw)

    body = error_of(response, 400, 'BadRequestError')
    assert len(messages(body['errors'])) == 100
    assert '3001 problems' in body['Message']  # the missing items too
    assert len(response.body) < 8 * 1024


REFUSED_TEXT = {
    'lone surrogate': 'oops \\ud800',
    'right-to-left override': '\\u202egnp.exe',
    'isolate': 'a\\u2066b',
    'C1 control': 'a\\u009bb',
    'zero width space': 'pay\\u200bpal',
}


@pytest.mark.parametrize('text', REFUSED_TEXT.values(), ids=REFUSED_TEXT.keys())
def test_a_reason_with_a_surrogate_or_a_bidi_control_is_a_400_and_changes_nothing(client, text):
    order = create_order(client)
    before = OrderHistory.select().count()

    response = send(
        client,
        'PUT',
        f'/orders/{order["order_id"]}',
        raw='{"status": "cancelled", "reason": "%s"}' % text,
    )

    assert set(field_errors(response)) == {'reason'}
    assert Order.get_by_id(order['order_id']).status == 'pending'
    assert OrderHistory.select().count() == before


@pytest.mark.parametrize('text', REFUSED_TEXT.values(), ids=REFUSED_TEXT.keys())
def test_a_carrier_with_a_surrogate_or_a_bidi_control_is_a_400(client, text):
    order = create_order(client)

    response = send(
        client,
        'PUT',
        f'/orders/{order["order_id"]}',
        raw=('{"status": "shipped", "carrier": "%s", "tracking_number": "JD-1"}' % text),
    )

    assert set(field_errors(response)) == {'carrier'}
    assert Order.get_by_id(order['order_id']).status == 'pending'


def test_a_reason_in_any_script_with_joiners_and_emoji_is_kept(client):
    order = create_order(client)
    reason = 'Déjà commandé 😅\nمی\u200cخواهم 👨\u200d👩\u200d👧'

    response = send(
        client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'cancelled', 'reason': reason}
    )

    assert response.status_code == 200, response.body
    assert OrderItem.select().count() == 2
    assert OrderHistory.select().order_by(OrderHistory.version.desc()).first().reason == reason
