"""PUT /orders/{id} with shipping details or a cancellation reason: what is
stored, answered and published, on SQLite and MariaDB."""

import json
import re
from decimal import Decimal

import pytest

from chalicelib.storage.models import OrderHistory, Outbox
from tests.support import bearer, create_order, json_of, put, send

ISO_Z = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z')
TRACKING = {
    'carrier': 'DHL Express',
    'tracking_number': 'JD-0142',
    'tracking_url': 'https://track.example.com/?id=JD-0142',
}


def last_event(order_id, event_type=None):
    """The order's last event (of this type: a cancellation of a paid order
    is followed by its refund's order_refunded)."""
    query = Outbox.select().where(Outbox.order_id == order_id)
    if event_type is not None:
        query = query.where(Outbox.event_type == event_type)
    row = query.order_by(Outbox.id.desc()).get()
    return row, json.loads(row.body, parse_float=Decimal)


# -- shipping --------------------------------------------------------------------


def test_shipping_with_tracking_answers_and_keeps_the_shipment(client):
    order = create_order(client)

    response = put(client, order['order_id'], {'status': 'shipped', **TRACKING})

    assert response.status_code == 200, response.body
    shipped = json_of(response)
    shipment = shipped['shipment']
    assert {k: shipment[k] for k in TRACKING} == TRACKING
    assert shipment['shipped_at'] == shipped['updated_at']
    assert ISO_Z.fullmatch(shipment['shipped_at'])
    fetched = json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))
    assert fetched['shipment'] == shipment
    [listed] = json_of(send(client, 'GET', '/orders'))['orders']
    assert listed['shipment'] == shipment


def test_shipping_without_details_still_records_when_it_shipped(client):
    order = create_order(client)

    shipped = json_of(put(client, order['order_id'], {'status': 'shipped'}))

    assert shipped['shipment'] == {
        'carrier': None,
        'tracking_number': None,
        'tracking_url': None,
        'shipped_at': shipped['updated_at'],
    }


def test_shipment_is_null_until_the_order_ships_and_stays_after_delivery(client):
    order = create_order(client)
    assert order['shipment'] is None
    paid = json_of(put(client, order['order_id'], {'status': 'paid'}))
    assert paid['shipment'] is None

    shipped = json_of(put(client, order['order_id'], {'status': 'shipped', **TRACKING}))
    delivered = json_of(put(client, order['order_id'], {'status': 'delivered'}))

    assert delivered['shipment'] == shipped['shipment']


def test_order_shipped_event_carries_the_shipment(client):
    order = create_order(client)

    shipped = json_of(put(client, order['order_id'], {'status': 'shipped', **TRACKING}))

    row, body = last_event(order['order_id'])
    assert row.event_type == 'order_shipped' and row.subject == 'Order Shipped'
    assert body['shipment'] == shipped['shipment']


def test_shipping_an_order_already_shipped_changes_nothing_not_even_its_tracking(client):
    order = create_order(client)
    first = json_of(put(client, order['order_id'], {'status': 'shipped', **TRACKING}))
    events = Outbox.select().count()

    again = put(
        client,
        order['order_id'],
        {'status': 'shipped', 'carrier': 'UPS', 'tracking_number': '1Z999'},
    )

    assert again.status_code == 200
    assert json_of(again) == first
    assert Outbox.select().count() == events


@pytest.mark.parametrize(
    'body, field',
    [
        ({'status': 'paid', 'carrier': 'DHL', 'tracking_number': 'JD-1'}, 'carrier'),
        ({'status': 'shipped', 'reason': 'late'}, 'reason'),
        ({'status': 'shipped', 'carrier': 'DHL'}, 'tracking_number'),
        (
            {
                'status': 'shipped',
                'carrier': 'DHL',
                'tracking_number': 'JD-1',
                'tracking_url': 'http://track.example.com/JD-1',
            },
            'tracking_url',
        ),
        ({'status': 'cancelled', 'reason': 'r' * 501}, 'reason'),
    ],
)
def test_details_that_break_their_rules_are_a_400_that_changes_nothing(client, body, field):
    order = create_order(client)

    response = put(client, order['order_id'], body)

    assert response.status_code == 400
    error = json_of(response)
    assert error['Code'] == 'BadRequestError' and error['Message'] == 'Invalid order update'
    assert field in error['errors']
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['version'] == 1


# -- cancellation ----------------------------------------------------------------


def test_cancelling_a_paid_order_publishes_order_cancelled_with_its_total_due(client):
    order = create_order(client)
    put(client, order['order_id'], {'status': 'paid'})

    response = put(client, order['order_id'], {'status': 'cancelled', 'reason': 'Found it cheaper'})

    assert response.status_code == 200
    row, body = last_event(order['order_id'], 'order_cancelled')
    assert (row.event_type, row.subject) == ('order_cancelled', 'Order Cancelled')
    assert body['event_type'] == 'order_cancelled' and body['status'] == 'cancelled'
    assert body['refund_due'] == Decimal('109.97') == body['order_total']
    assert body['reason'] == 'Found it cheaper'
    assert Outbox.select().where(Outbox.event_type == 'order_updated').count() == 1  # paid


def test_cancelling_an_unpaid_order_publishes_a_refund_due_of_zero(client):
    order = create_order(client)

    put(client, order['order_id'], {'status': 'cancelled'})

    row, body = last_event(order['order_id'])
    assert row.event_type == 'order_cancelled'
    assert body['refund_due'] == 0 and isinstance(body['refund_due'], (int, Decimal))
    assert json.loads(row.body)['refund_due'] == 0.0
    assert body['reason'] is None


def test_refund_due_is_exact_money(client):
    order = create_order(
        client,
        items=[
            {'product_id': 1, 'quantity': 3, 'price_at_order': Decimal('0.10')},
            {'product_id': 2, 'quantity': 1, 'price_at_order': Decimal('0.20')},
        ],
    )
    put(client, order['order_id'], {'status': 'paid'})

    put(client, order['order_id'], {'status': 'cancelled'})

    row, body = last_event(order['order_id'], 'order_cancelled')
    assert body['refund_due'] == Decimal('0.5')
    assert '"refund_due":0.5,' in row.body


def test_a_customer_may_cancel_their_own_order_with_a_reason(client, issuer):
    ada = bearer(issuer.mint(user_id=1, email='ada@example.com'))
    order = create_order(client, user_id=1)

    response = put(
        client, order['order_id'], {'status': 'cancelled', 'reason': 'Ordered twice'}, ada
    )

    assert response.status_code == 200
    _, body = last_event(order['order_id'])
    assert body['reason'] == 'Ordered twice'


def test_a_reason_keeps_its_characters(client):
    order = create_order(client)
    reason = 'Déjà commandé 😅 <b>"x"</b>\nline two'

    put(client, order['order_id'], {'status': 'cancelled', 'reason': reason})

    entry = OrderHistory.get(OrderHistory.order == order['order_id'], OrderHistory.version == 2)
    assert entry.reason == reason
    assert last_event(order['order_id'])[1]['reason'] == reason


# -- TRACKING_URL_HOSTS: the carriers' hosts a tracking link may point at -----------


@pytest.mark.parametrize('database_url', ['sqlite'], indirect=True)
def test_with_tracking_url_hosts_set_a_link_elsewhere_is_a_400_and_changes_nothing(
    client, monkeypatch
):
    from chalicelib.platform.config import get_settings

    monkeypatch.setenv('TRACKING_URL_HOSTS', 'track.example.com,dhl.com')
    get_settings.cache_clear()
    order = create_order(client)

    refused = put(
        client,
        order['order_id'],
        {'status': 'shipped', **TRACKING, 'tracking_url': 'https://phish.example/track'},
    )
    accepted = put(client, order['order_id'], {'status': 'shipped', **TRACKING})

    assert refused.status_code == 400
    assert set(json_of(refused)['errors']) == {'tracking_url'}
    assert accepted.status_code == 200
    assert json_of(accepted)['shipment']['tracking_url'] == TRACKING['tracking_url']
