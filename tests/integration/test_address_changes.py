"""PUT /orders/{id} with new addresses (alone or with a status), over HTTP on
SQLite and MariaDB: the order's customer or staff, before it ships; one
version, one history entry, one event; its tax computed again at the new
destination (orders/changes.plan_order_update through apply_change), its
shipping method and its price kept; a total bound to money never moves."""

import json
from decimal import Decimal

import pytest

from chalicelib.storage.models import Order, OrderHistory, OrderItem, Outbox
from tests.support import ILLINOIS, bearer, error_of, field_errors, json_of, order_body, put, send

OREGON = {**ILLINOIS, 'city': 'Portland', 'region': 'OR', 'postal_code': '97201'}
TORONTO = {
    'name': 'Ada Lovelace',
    'line1': '1 Front St W',
    'city': 'Toronto',
    'region': 'ON',
    'postal_code': 'M5J 2X5',
    'country': 'CA',
}
BERLIN = {
    'name': 'Ada Lovelace',
    'line1': 'Unter den Linden 1',
    'city': 'Berlin',
    'postal_code': '10117',
    'country': 'DE',
}
STANDARD = {
    'name': 'Standard, 3-5 days',
    'price': Decimal('4.99'),
    'currency': 'USD',
    'countries': ['US', 'CA'],
}


@pytest.fixture
def ada(issuer):
    return bearer(issuer.mint(user_id=1))


@pytest.fixture
def illinois_taxed(client):
    response = send(
        client,
        'PUT',
        '/tax-rates/US-IL',
        {'name': 'Illinois', 'rates': {'standard': Decimal('0.0625')}, 'shipping': True},
    )
    assert response.status_code == 201


def place(client, **extra):
    response = send(client, 'POST', '/orders', order_body(**extra))
    assert response.status_code == 201, response.body
    return json_of(response)


def events_of(order_id):
    return [
        (row.event_type, json.loads(row.body))
        for row in Outbox.select().where(Outbox.order_id == order_id).order_by(Outbox.id)
    ]


def history_of(order_id):
    return list(OrderHistory.select().where(OrderHistory.order == order_id))


def adds_up(order):
    """The order's totals, from its lines and its shipping, to the cent."""
    lines = order['items']
    subtotal = sum(Decimal(str(i['price_at_order'])) * i['quantity'] for i in lines)
    discount = sum(Decimal(str(i['discount'])) for i in lines)
    shipping_tax = Decimal(str((order['shipping'] or {'tax': 0})['tax']))
    tax = sum(Decimal(str(i['tax'])) for i in lines) + shipping_tax
    shipping = Decimal(str(order['shipping_total']))
    assert Decimal(str(order['subtotal'])) == subtotal
    assert Decimal(str(order['tax_total'])) == tax
    total = subtotal - discount + shipping + (0 if order['prices_include_tax'] else tax)
    assert Decimal(str(order['order_total'])) == total


def test_a_customer_moves_their_order_and_it_is_taxed_at_the_new_destination(
    client, ada, illinois_taxed
):
    order = place(client, shipping_address=OREGON)
    assert order['tax_total'] == 0

    response = put(client, order['order_id'], {'shipping_address': ILLINOIS}, ada)

    moved = json_of(response)
    assert response.status_code == 200, response.body
    assert response.headers['ETag'] == '"2"'
    assert moved['shipping_address'] == {**ILLINOIS, 'company': None, 'line2': None, 'phone': None}
    assert [(item['tax'], item['tax_rate']) for item in moved['items']] == [
        (3.75, 0.0625),
        (3.12, 0.0625),
    ]
    assert (moved['tax_total'], moved['order_total'], moved['version']) == (6.87, 116.84, 2)
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}')) == moved
    adds_up(moved)
    stored = [
        (item.tax, item.tax_rate)
        for item in OrderItem.select().where(OrderItem.order == order['order_id'])
    ]
    assert stored == [(Decimal('3.75'), Decimal('0.0625')), (Decimal('3.12'), Decimal('0.0625'))]


def test_an_address_change_is_one_version_one_history_entry_and_one_event(
    client, ada, illinois_taxed
):
    order = place(client, shipping_address=OREGON)

    put(client, order['order_id'], {'shipping_address': ILLINOIS}, ada)

    entries = history_of(order['order_id'])
    assert [(e.version, e.status, e.actor_role, e.reason) for e in entries] == [
        (1, 'pending', 'staff', None),
        (2, 'pending', 'customer', 'Shipping address changed'),
    ]
    kinds = events_of(order['order_id'])
    assert [kind for kind, _ in kinds] == ['order_created', 'order_updated']
    assert {
        name: kinds[1][1][name] for name in ('order_total', 'tax_total', 'subtotal', 'status')
    } == {'order_total': 116.84, 'tax_total': 6.87, 'subtotal': 109.97, 'status': 'pending'}


def test_the_same_addresses_again_change_nothing(client, ada):
    order = place(client, shipping_address=OREGON)

    again = put(client, order['order_id'], {'shipping_address': OREGON}, ada)

    assert json_of(again)['version'] == 1
    assert len(history_of(order['order_id'])) == 1
    assert [kind for kind, _ in events_of(order['order_id'])] == ['order_created']


def test_a_billing_change_to_the_same_destination_keeps_the_tax(client, illinois_taxed):
    order = place(client, shipping_address=ILLINOIS)
    send(
        client,
        'PUT',
        '/tax-rates/US-IL',
        {'name': 'Illinois', 'rates': {'standard': Decimal('0.10')}, 'shipping': True},
    )

    billed = json_of(put(client, order['order_id'], {'billing_address': BERLIN}))

    assert billed['billing_address']['country'] == 'DE'
    assert (billed['tax_total'], billed['order_total'], billed['version']) == (6.87, 116.84, 2)
    cleared = json_of(put(client, order['order_id'], {'billing_address': None}))
    assert (cleared['billing_address'], cleared['version']) == (None, 3)


def test_a_billing_address_is_the_destination_when_there_is_no_shipping_address(
    client, illinois_taxed
):
    order = place(client)

    billed = json_of(put(client, order['order_id'], {'billing_address': ILLINOIS}))

    assert (billed['tax_total'], billed['order_total']) == (6.87, 116.84)
    adds_up(billed)


def test_the_service_role_may_not_change_addresses(client, issuer):
    order = place(client, shipping_address=OREGON)
    service = bearer(issuer.mint(role='service'))

    error_of(
        put(client, order['order_id'], {'shipping_address': ILLINOIS}, service),
        403,
        'ForbiddenError',
    )
    error_of(
        put(client, order['order_id'], {'status': 'shipped', 'billing_address': None}, service),
        403,
        'ForbiddenError',
    )
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['version'] == 1


def test_another_customers_order_does_not_exist(client, issuer):
    order = place(client, shipping_address=OREGON)
    bob = bearer(issuer.mint(user_id=2))

    error_of(
        put(client, order['order_id'], {'shipping_address': ILLINOIS}, bob), 404, 'NotFoundError'
    )


def test_a_customer_may_change_addresses_and_cancel_but_set_no_other_status(client, ada):
    order = place(client, shipping_address=OREGON)

    error_of(
        put(client, order['order_id'], {'status': 'paid', 'shipping_address': ILLINOIS}, ada),
        403,
        'ForbiddenError',
    )
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['version'] == 1


@pytest.mark.parametrize('status', ['shipped', 'delivered', 'cancelled'])
def test_after_the_order_ships_or_ends_its_addresses_stay(client, status):
    order = place(client, shipping_address=OREGON)
    for step in {'shipped': ['shipped'], 'delivered': ['shipped', 'delivered']}.get(
        status, [status]
    ):
        assert put(client, order['order_id'], step).status_code == 200

    refused = put(client, order['order_id'], {'shipping_address': ILLINOIS})

    error_of(refused, 409, 'ConflictError')
    assert (
        json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['shipping_address']['region']
        == 'OR'
    )


def test_a_paid_order_whose_total_would_change_is_a_409_and_nothing_changes(client, illinois_taxed):
    order = place(client, shipping_address=OREGON)
    put(client, order['order_id'], 'paid')

    refused = put(client, order['order_id'], {'shipping_address': ILLINOIS})

    error_of(refused, 409, 'ConflictError')
    assert 'shipping_address' in error_of(refused, 409, 'ConflictError')['errors']
    after = json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))
    assert (after['version'], after['order_total'], after['shipping_address']['region']) == (
        2,
        109.97,
        'OR',
    )
    assert [item['tax'] for item in after['items']] == [0, 0]


def test_a_paid_order_may_move_where_its_total_stays(client):
    order = place(client, shipping_address=OREGON)
    put(client, order['order_id'], 'paid')

    moved = json_of(put(client, order['order_id'], {'shipping_address': ILLINOIS}))

    assert (moved['version'], moved['order_total'], moved['payment']['amount_paid']) == (
        3,
        109.97,
        109.97,
    )


def test_an_order_with_a_payment_intent_keeps_its_total(client, illinois_taxed):
    order = place(client, shipping_address=OREGON)
    Order.update(payment_intent_id='pi_started').where(
        Order.order_id == order['order_id']
    ).execute()

    refused = put(client, order['order_id'], {'shipping_address': ILLINOIS})

    error_of(refused, 409, 'ConflictError')
    assert 'card payment' in json_of(refused)['Message']


def test_an_order_keeps_its_method_and_price_and_goes_where_the_method_ships(
    client, ada, illinois_taxed
):
    assert send(client, 'PUT', '/shipping-methods/standard', STANDARD).status_code == 201
    order = place(client, shipping_address=ILLINOIS, shipping_method='standard')
    assert (order['shipping']['amount'], order['shipping']['tax']) == (4.99, 0.31)
    send(client, 'PUT', '/shipping-methods/standard', {**STANDARD, 'price': Decimal('9.99')})

    to_canada = json_of(put(client, order['order_id'], {'shipping_address': TORONTO}, ada))
    refused = put(client, order['order_id'], {'shipping_address': BERLIN}, ada)

    assert to_canada['shipping'] == {
        'method': 'standard',
        'name': 'Standard, 3-5 days',
        'amount': 4.99,
        'tax': 0,
        'waived': 0,
    }
    assert (to_canada['tax_total'], to_canada['order_total']) == (0, 114.96)
    adds_up(to_canada)
    error_of(refused, 409, 'ConflictError')
    assert error_of(refused, 409, 'ConflictError')['errors'] == {
        'shipping_address': {
            'country': ['The order ships with Standard, 3-5 days, which does not ship to DE.']
        }
    }


def test_the_country_it_was_placed_for_stays_open_though_the_method_stops_shipping_there(
    client, ada
):
    send(client, 'PUT', '/shipping-methods/standard', STANDARD)
    order = place(client, shipping_address=ILLINOIS, shipping_method='standard')
    send(client, 'PUT', '/shipping-methods/standard', {**STANDARD, 'countries': ['CA']})

    moved = put(client, order['order_id'], {'shipping_address': OREGON}, ada)

    assert moved.status_code == 200, moved.body


def test_if_match_is_honoured(client):
    order = place(client, shipping_address=OREGON)

    stale = put(client, order['order_id'], {'shipping_address': ILLINOIS}, {'If-Match': '"7"'})
    fresh = put(client, order['order_id'], {'shipping_address': ILLINOIS}, {'If-Match': '"1"'})

    error_of(stale, 412, 'PreconditionFailed')
    assert fresh.status_code == 200


def test_a_status_and_addresses_are_one_change(client, illinois_taxed):
    order = place(client, shipping_address=OREGON)

    shipped = json_of(
        put(
            client,
            order['order_id'],
            {
                'status': 'shipped',
                'shipping_address': ILLINOIS,
                'carrier': 'DHL',
                'tracking_number': 'JD1',
            },
        )
    )

    assert (shipped['status'], shipped['version'], shipped['tax_total']) == ('shipped', 2, 6.87)
    assert shipped['shipment']['carrier'] == 'DHL'
    assert [kind for kind, _ in events_of(order['order_id'])] == ['order_created', 'order_shipped']
    assert [e.reason for e in history_of(order['order_id'])] == [None, 'Shipping address changed']


def test_marked_paid_beside_a_move_it_is_paid_its_new_total(client, illinois_taxed):
    order = place(client, shipping_address=OREGON)

    paid = json_of(put(client, order['order_id'], {'status': 'paid', 'shipping_address': ILLINOIS}))

    assert (paid['order_total'], paid['payment']['amount_paid'], paid['version']) == (
        116.84,
        116.84,
        2,
    )


@pytest.mark.parametrize(
    'body, field',
    [
        ({}, 'status'),
        ({'shipping_address': None}, 'shipping_address'),
        ({'shipping_address': {**ILLINOIS, 'postal_code': '10001'}}, 'shipping_address'),
        ({'shipping_address': ILLINOIS, 'carrier': 'DHL'}, 'carrier'),
    ],
)
def test_a_bad_body_is_a_400_and_changes_nothing(client, body, field):
    order = place(client, shipping_address=OREGON)

    assert field in field_errors(put(client, order['order_id'], body))
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['version'] == 1
