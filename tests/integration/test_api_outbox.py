"""One change, one outbox row, committed with the change: what each HTTP
request leaves in the outbox table, on SQLite and MariaDB."""

import json
import re
from decimal import Decimal

import pytest

from chalicelib.storage.models import Outbox
from tests.support import (
    BREAKDOWN,
    EVENT_KEYS,
    PATH_TO,
    create_order,
    json_of,
    order_in,
    put,
    send,
)

ISO_Z = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z')
SUBJECTS = {
    'order_created': 'Order Created',
    'order_updated': 'Order Updated',
    'order_shipped': 'Order Shipped',
    'order_cancelled': 'Order Cancelled',
    'order_deleted': 'Order Deleted',
}
ARROW_EVENTS = [
    ('pending', 'paid', 'order_updated'),
    ('pending', 'shipped', 'order_shipped'),
    ('pending', 'cancelled', 'order_cancelled'),
    ('paid', 'shipped', 'order_shipped'),
    ('paid', 'cancelled', 'order_cancelled'),
    ('shipped', 'delivered', 'order_updated'),
]


def events_of(order_id):
    rows = Outbox.select().where(Outbox.order_id == order_id).order_by(Outbox.id)
    return [(row.event_type, json.loads(row.body, parse_float=Decimal), row) for row in rows]


def test_create_writes_one_order_created_row_with_the_contract_message(client):
    order = create_order(client, user_id=7, user_email='ada@example.com')

    [(event_type, message, row)] = events_of(order['order_id'])

    assert event_type == 'order_created'
    assert row.subject == 'Order Created'
    assert set(message) == EVENT_KEYS | BREAKDOWN
    assert message['event_id'] == row.event_id
    assert message['event_type'] == 'order_created'
    assert (message['order_id'], message['user_id'], message['user_email']) == (
        order['order_id'],
        7,
        'ada@example.com',
    )
    assert message['status'] == 'pending'
    assert message['order_total'] == message['subtotal'] == Decimal('109.97')
    assert (
        message['discount_total'],
        message['shipping_total'],
        message['tax_total'],
    ) == (0, 0, 0)
    assert ISO_Z.fullmatch(message['timestamp'])


@pytest.mark.parametrize('current,new,event_type', ARROW_EVENTS)
def test_each_status_change_writes_exactly_one_row_of_its_type(client, current, new, event_type):
    order = order_in(client, current)
    before = len(events_of(order['order_id']))

    put(client, order['order_id'], new)

    events = events_of(order['order_id'])[before:]
    # A paid order's cancellation also gives the money back: a payment taken
    # outside the service is refunded at once.
    refund = ['order_refunded'] if (current, new) == ('paid', 'cancelled') else []
    assert [event[0] for event in events] == [event_type, *refund]
    _, message, row = events[0]
    assert row.subject == SUBJECTS[event_type]
    assert message['status'] == new


def test_same_status_put_writes_no_event(client, subtests):
    for status in PATH_TO:
        with subtests.test(status):
            order = order_in(client, status)
            before = Outbox.select().count()

            response = put(client, order['order_id'], status)

            assert response.status_code == 200
            assert Outbox.select().count() == before


def test_forbidden_status_change_writes_no_event(client):
    order = order_in(client, 'delivered')
    before = Outbox.select().count()

    response = put(client, order['order_id'], 'pending')

    assert response.status_code == 409
    assert Outbox.select().count() == before


def test_stale_if_match_writes_no_event(client):
    order = order_in(client, 'paid')
    before = Outbox.select().count()

    response = send(
        client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'shipped'}, {'If-Match': '"1"'}
    )

    assert response.status_code == 412
    assert Outbox.select().count() == before


def test_delete_writes_one_order_deleted_row_with_the_status_the_order_had(client, subtests):
    for status in PATH_TO:
        with subtests.test(status):
            order = order_in(client, status, user_email='ada@example.com')
            before = len(events_of(order['order_id']))

            client.http.delete(f'/orders/{order["order_id"]}')

            events = events_of(order['order_id'])
            assert len(events) == before + 1
            event_type, message, row = events[-1]
            assert event_type == 'order_deleted'
            assert row.subject == 'Order Deleted'
            assert message['status'] == status
            assert message['order_id'] == order['order_id']
            assert message['order_total'] == Decimal('109.97')


def test_refused_delete_writes_no_event(client):
    order = create_order(client)
    client.http.delete(f'/orders/{order["order_id"]}')
    before = Outbox.select().count()

    response = client.http.delete(f'/orders/{order["order_id"]}')

    assert response.status_code == 404
    assert Outbox.select().count() == before


def test_a_whole_lifecycle_writes_one_event_per_change_in_order(client):
    order = create_order(client)
    for status in ('paid', 'paid', 'shipped', 'delivered', 'delivered'):
        put(client, order['order_id'], status)
    client.http.delete(f'/orders/{order["order_id"]}')

    events = events_of(order['order_id'])

    assert [e[0] for e in events] == [
        'order_created',
        'order_updated',
        'order_shipped',
        'order_updated',
        'order_deleted',
    ]
    assert [e[1]['status'] for e in events] == [
        'pending',
        'paid',
        'shipped',
        'delivered',
        'delivered',
    ]
    assert len({e[1]['event_id'] for e in events}) == 5


def test_event_total_is_exact(client):
    response = send(
        client,
        'POST',
        '/orders',
        {
            'user_id': 1,
            'items': [
                {'product_id': 1, 'quantity': 3, 'price_at_order': Decimal('0.10')},
                {'product_id': 2, 'quantity': 1, 'price_at_order': Decimal('0.20')},
            ],
        },
    )

    [(_, message, _)] = events_of(json_of(response)['order_id'])

    assert message['order_total'] == Decimal('0.5')
