"""Returns over HTTP on SQLite and MariaDB: a customer opens one on a
delivered order within the window, staff approve (or decline) and receive
it; receiving puts restocked units back on the shelf and refunds what was
paid for what came back (sent to localstripe after the commit, or at once
for a payment taken outside), in one transaction with its event; every
change is in the order's history without changing the order's version."""

from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib.payments import gateway
from chalicelib.storage.models import Outbox, Refund
from chalicelib.wiring import runtime
from tests.stripe_support import (
    NAMESPACE,
    card_paid_order,
    events_of,
    run_relay,
    stripe_refunds,
)
from tests.support import (
    CATALOG,
    FROZEN_AT,
    ILLINOIS,
    Clock,
    bearer,
    changed,
    create_order,
    error_of,
    field_errors,
    json_of,
    put_product,
    send,
)

ADA = 1


@pytest.fixture
def ada(issuer):
    return bearer(issuer.mint(user_id=ADA, email='ada@example.com'))


@pytest.fixture
def bob(issuer):
    return bearer(issuer.mint(user_id=2))


@pytest.fixture
def fulfilment(issuer):
    return bearer(issuer.mint(role='service'))


@pytest.fixture
def returns_clock(service_clock, monkeypatch):
    """Orders change at FROZEN_AT (service_clock); returns run on a clock of
    their own, a day after, until the test moves it."""
    from chalicelib.returns.service import ReturnService

    clock = Clock(FROZEN_AT + timedelta(days=1))

    def return_service():
        runtime.database()
        return ReturnService(
            runtime.refund_service(),
            lambda events: runtime.publisher().publish_committed(events),
            clock=clock,
        )

    monkeypatch.setattr(runtime, 'return_service', return_service)
    return clock


@pytest.fixture
def shop(client):
    """The mug is tracked (10 on hand), the T-shirt is not."""
    put_product(client, 101, **CATALOG[101], stock={'on_hand': 10})
    put_product(client, 102, **CATALOG[102])


def stock_of(client, product_id):
    return json_of(send(client, 'GET', f'/products/{product_id}'))['stock']


def delivered(client, paid=True, status='delivered'):
    """Ada's order of 2 mugs and a T-shirt, paid outside, shipped, delivered."""
    order = create_order(client, user_email='ada@example.com')
    steps = (['paid'] if paid else []) + ['shipped', 'delivered']
    for step in steps[: steps.index(status) + 1]:
        order = changed(client, order['order_id'], step)
    return order


def open_return(client, order_id, items, headers=None, **extra):
    return send(client, 'POST', f'/orders/{order_id}/returns', {'items': items, **extra}, headers)


def opened(client, order_id, items, headers=None, **extra):
    response = open_return(client, order_id, items, headers, **extra)
    assert response.status_code == 201, response.body
    return json_of(response)


def move(client, order_id, return_id, body, headers=None):
    return send(client, 'PUT', f'/orders/{order_id}/returns/{return_id}', body, headers)


def moved(client, order_id, return_id, body, headers=None):
    response = move(client, order_id, return_id, body, headers)
    assert response.status_code == 200, response.body
    return json_of(response)


def line(order, index=0, quantity=1, **extra):
    return {'order_item_id': order['items'][index]['order_item_id'], 'quantity': quantity, **extra}


def receipt(returned, restock=True, received=None):
    return {
        'status': 'received',
        'items': [
            {
                'order_item_id': item['order_item_id'],
                'received': item['quantity'] if received is None else received,
                'restock': restock,
            }
            for item in returned['items']
        ],
    }


def read(client, order_id):
    return json_of(send(client, 'GET', f'/orders/{order_id}'))


# -- the whole flow ------------------------------------------------------------


def test_a_return_opened_approved_and_received_restocks_and_refunds_by_card_once(
    client, shop, stripe, localstripe, returns_clock, ada
):
    order, intent_id = card_paid_order(client, localstripe)
    changed(client, order['order_id'], 'shipped')
    order = changed(client, order['order_id'], 'delivered')
    assert stock_of(client, 101)['on_hand'] == 8  # two mugs sold

    response = open_return(client, order['order_id'], [line(order, 0, 1, reason='Too small')], ada)
    returned = json_of(response)
    assert response.status_code == 201, response.body
    assert response.headers['Location'] == (
        f'/orders/{order["order_id"]}/returns/{returned["return_id"]}'
    )
    assert response.headers['ETag'] == '"1"'
    assert {**returned, 'return_id': 0} == {
        'return_id': 0,
        'order_id': order['order_id'],
        'status': 'requested',
        'version': 1,
        'items': [
            {
                'order_item_id': order['items'][0]['order_item_id'],
                'quantity': 1,
                'reason': 'Too small',
                'received': None,
                'restocked': None,
            }
        ],
        'note': None,
        'deduction': 0,
        'refund_id': None,
        'created_at': '2030-01-02T00:00:05.000000Z',
        'updated_at': '2030-01-02T00:00:05.000000Z',
    }
    approved = moved(
        client,
        order['order_id'],
        returned['return_id'],
        {'status': 'approved'},
        {'If-Match': '"1"'},
    )
    received = moved(client, order['order_id'], returned['return_id'], receipt(approved))

    assert (approved['status'], approved['version']) == ('approved', 2)
    assert received['status'] == 'received' and received['version'] == 3
    assert received['items'][0] | {'received': 1, 'restocked': True} == received['items'][0]
    assert stock_of(client, 101)['on_hand'] == 9
    refund = json_of(
        send(client, 'GET', f'/orders/{order["order_id"]}/refunds/{received["refund_id"]}')
    )
    assert (refund['amount'], refund['status'], refund['items']) == (
        29.99,
        'succeeded',
        [{'order_item_id': order['items'][0]['order_item_id'], 'quantity': 1}],
    )
    assert stripe_refunds(localstripe, intent_id) == [2999]
    assert stripe.refund_creates() == [f'{NAMESPACE}-refund-{received["refund_id"]}']
    after = read(client, order['order_id'])
    # The return's three changes left the order alone; the refund is one change of it.
    assert (after['status'], after['version']) == ('delivered', order['version'] + 1)
    assert after['payment']['amount_refunded'] == 29.99
    kinds = [event['event_type'] for event in events_of(order['order_id'])]
    assert kinds[-4:] == [
        'return_requested',
        'return_approved',
        'return_received',
        'order_refunded',
    ]
    [event] = events_of(order['order_id'], 'return_received')
    assert (event['return_id'], event['refund_id'], event['items'][0]['received']) == (
        returned['return_id'],
        received['refund_id'],
        1,
    )


@pytest.fixture
def quick_stripe(monkeypatch):
    """Requests give up on Stripe after half a second (the relay waits longer)."""
    monkeypatch.setitem(gateway._CLIENTS, gateway.REQUEST, ((0.5, 0.5), 0))


def test_a_receipt_stripe_does_not_take_is_received_and_the_relay_sends_its_refund_once(
    app_module, client, shop, stripe, localstripe, quick_stripe, returns_clock
):
    order, intent_id = card_paid_order(client, localstripe)
    changed(client, order['order_id'], 'shipped')
    changed(client, order['order_id'], 'delivered')
    returned = opened(client, order['order_id'], [line(order, 0, 2)])
    ids = (order['order_id'], returned['return_id'])
    moved(client, *ids, {'status': 'approved'})
    stripe.mode = 'down'

    received = moved(client, *ids, receipt(returned))

    assert stock_of(client, 101)['on_hand'] == 10
    refund_path = f'/orders/{order["order_id"]}/refunds/{received["refund_id"]}'
    assert json_of(send(client, 'GET', refund_path))['status'] == 'pending'
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 0
    stripe.mode = 'ok'
    assert run_relay(app_module) == {'answered': 1, 'intents_cancelled': 0}
    assert json_of(send(client, 'GET', refund_path))['status'] == 'succeeded'
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 59.98
    assert stripe_refunds(localstripe, intent_id) == [5998]
    assert set(stripe.refund_creates()) == {f'{NAMESPACE}-refund-{received["refund_id"]}'}


def test_receiving_the_same_return_twice_moves_stock_and_money_once(client, shop, returns_clock):
    order = delivered(client)
    returned = opened(client, order['order_id'], [line(order, 0, 2)])
    moved(client, order['order_id'], returned['return_id'], {'status': 'approved'})

    first = move(client, order['order_id'], returned['return_id'], receipt(returned))
    second = move(client, order['order_id'], returned['return_id'], receipt(returned))

    assert first.status_code == 200
    body = error_of(second, 409, 'ConflictError')
    assert "'received'" in body['Message'] and 'final' in body['Message']
    assert stock_of(client, 101)['on_hand'] == 10
    assert Refund.select().count() == 1
    # Paid outside: given back at once, one change of the order.
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 59.98


# -- who may open, and when ------------------------------------------------------


def test_the_customer_opens_within_the_window_and_not_after(client, shop, returns_clock, ada):
    order = delivered(client)
    returns_clock.now = FROZEN_AT + timedelta(days=30)
    assert open_return(client, order['order_id'], [line(order)], ada).status_code == 201

    returns_clock.advance(timedelta(seconds=1))
    late = open_return(client, order['order_id'], [line(order)], ada)
    staff = open_return(client, order['order_id'], [line(order)])

    assert 'window' in error_of(late, 409, 'ConflictError')['Message']
    assert staff.status_code == 201


def test_a_window_of_zero_days_lets_only_staff_open_returns(
    client, shop, returns_clock, ada, monkeypatch
):
    monkeypatch.setenv('RETURN_WINDOW_DAYS', '0')
    runtime.reset()
    order = delivered(client)

    error_of(open_return(client, order['order_id'], [line(order)], ada), 409, 'ConflictError')
    assert open_return(client, order['order_id'], [line(order)]).status_code == 201


def test_customers_return_delivered_orders_and_staff_shipped_ones_too(
    client, shop, returns_clock, ada
):
    shipped = delivered(client, status='shipped')
    pending = create_order(client, user_email='ada@example.com')

    customer = open_return(client, shipped['order_id'], [line(shipped)], ada)
    staff = open_return(client, shipped['order_id'], [line(shipped)])
    too_early = open_return(client, pending['order_id'], [line(pending)])

    assert "'shipped'" in error_of(customer, 409, 'ConflictError')['Message']
    assert staff.status_code == 201
    assert "'pending'" in error_of(too_early, 409, 'ConflictError')['Message']


def test_another_customers_order_is_not_found_and_the_service_only_reads(
    client, shop, returns_clock, bob, fulfilment
):
    order = delivered(client)
    returned = opened(client, order['order_id'], [line(order)])
    path = f'/orders/{order["order_id"]}/returns'

    assert open_return(client, order['order_id'], [line(order)], bob).status_code == 404
    assert send(client, 'GET', path, headers=bob).status_code == 404
    assert send(client, 'GET', f'{path}/{returned["return_id"]}', headers=bob).status_code == 404
    error_of(
        open_return(client, order['order_id'], [line(order)], fulfilment), 403, 'ForbiddenError'
    )
    error_of(
        move(client, order['order_id'], returned['return_id'], {'status': 'approved'}, fulfilment),
        403,
        'ForbiddenError',
    )
    listed = send(client, 'GET', path, headers=fulfilment)
    one = send(client, 'GET', f'{path}/{returned["return_id"]}', headers=fulfilment)
    assert [r['return_id'] for r in json_of(listed)] == [returned['return_id']]
    assert json_of(one) == returned and one.headers['ETag'] == '"1"'
    assert send(client, 'GET', f'{path}/999999').status_code == 404


def test_the_customer_cancels_while_requested_and_nothing_else(client, shop, returns_clock, ada):
    order = delivered(client)
    first = opened(client, order['order_id'], [line(order)], ada)
    second = opened(client, order['order_id'], [line(order)], ada)
    moved(client, order['order_id'], second['return_id'], {'status': 'approved'})

    approve = move(client, order['order_id'], first['return_id'], {'status': 'approved'}, ada)
    cancelled = move(client, order['order_id'], first['return_id'], {'status': 'cancelled'}, ada)
    too_late = move(client, order['order_id'], second['return_id'], {'status': 'cancelled'}, ada)
    staff = move(client, order['order_id'], second['return_id'], {'status': 'cancelled'})

    error_of(approve, 403, 'ForbiddenError')
    assert json_of(cancelled)['status'] == 'cancelled'
    assert "'approved'" in error_of(too_late, 403, 'ForbiddenError')['Message']
    assert json_of(staff)['status'] == 'cancelled'


# -- lines ----------------------------------------------------------------------


def test_a_line_is_never_returned_beyond_its_quantity_counting_other_open_returns(
    client, shop, returns_clock
):
    order = delivered(client)  # 2 mugs, 1 T-shirt
    first = opened(client, order['order_id'], [line(order, 0, 1)])

    beyond = open_return(client, order['order_id'], [line(order, 1, 1), line(order, 0, 2)])
    moved(client, order['order_id'], first['return_id'], {'status': 'declined', 'reason': 'Worn'})
    freed = open_return(client, order['order_id'], [line(order, 0, 2)])
    unknown = open_return(client, order['order_id'], [{'order_item_id': 999999, 'quantity': 1}])

    body = error_of(beyond, 409, 'ConflictError')
    assert body['errors'] == {
        'items': {'1': {'quantity': ['Only 1 of this line may be returned.']}}
    }
    assert freed.status_code == 201
    assert 'order_item_id' in field_errors(unknown)['items']['0']


def test_a_request_is_held_to_its_rules(client, shop, returns_clock):
    order = delivered(client)
    path = f'/orders/{order["order_id"]}/returns'

    for body in (
        {'items': []},
        {'items': [line(order)] * 101},
        {'items': [line(order, quantity='1')]},
        {'items': [line(order)], 'note': 'a\u202eb'},
        {'items': [line(order, reason='x' * 501)]},
        {'items': [line(order)], 'extra': 1},
    ):
        field_errors(send(client, 'POST', path, body))


# -- moves ------------------------------------------------------------------------


def test_moves_follow_the_lifecycle_if_match_and_a_decline_says_why(client, shop, returns_clock):
    order = delivered(client)
    returned = opened(client, order['order_id'], [line(order)])
    ids = (order['order_id'], returned['return_id'])

    no_reason = move(client, *ids, {'status': 'declined'})
    stale = move(client, *ids, {'status': 'approved'}, {'If-Match': '"2"'})
    receive_early = move(client, *ids, receipt(returned))
    declined = moved(client, *ids, {'status': 'declined', 'reason': 'Worn'}, {'If-Match': '"1"'})
    after_final = move(client, *ids, {'status': 'approved'})

    assert 'reason' in field_errors(no_reason)
    error_of(stale, 412, 'PreconditionFailed')
    assert (
        "from 'requested' to 'received'" in error_of(receive_early, 409, 'ConflictError')['Message']
    )
    assert (declined['status'], declined['version']) == ('declined', 2)
    assert "from 'declined' to 'approved'" in error_of(after_final, 409, 'ConflictError')['Message']
    [event] = events_of(order['order_id'], 'return_declined')
    assert (event['return_id'], event['reason'], event['status']) == (
        returned['return_id'],
        'Worn',
        'delivered',
    )


def test_a_receipt_names_every_line_once_within_its_quantity(client, shop, returns_clock):
    order = delivered(client)
    returned = opened(client, order['order_id'], [line(order, 0, 2), line(order, 1, 1)])
    ids = (order['order_id'], returned['return_id'])
    moved(client, *ids, {'status': 'approved'})
    mug, tee = (item['order_item_id'] for item in returned['items'])

    missing = move(
        client,
        *ids,
        {'status': 'received', 'items': [{'order_item_id': mug, 'received': 2, 'restock': True}]},
    )
    too_many = move(
        client,
        *ids,
        {
            'status': 'received',
            'items': [
                {'order_item_id': mug, 'received': 3, 'restock': True},
                {'order_item_id': tee, 'received': 1, 'restock': True},
            ],
        },
    )
    fee_without_reason = move(client, *ids, {**receipt(returned), 'deduction': 5})

    assert 'missing order_item_id' in str(field_errors(missing)['items'])
    assert 'received' in field_errors(too_many)['items']['0']
    assert 'reason' in field_errors(fee_without_reason)
    assert json_of(send(client, 'GET', f'/orders/{ids[0]}/returns/{ids[1]}'))['status'] == (
        'approved'
    )


# -- receiving: stock and money ---------------------------------------------------


def test_what_arrived_less_the_deduction_is_refunded_and_only_restocked_units_go_back(
    client, shop, returns_clock
):
    order = delivered(client)  # paid outside: 2 x 29.99 + 49.99
    returned = opened(client, order['order_id'], [line(order, 0, 2), line(order, 1, 1)])
    ids = (order['order_id'], returned['return_id'])
    moved(client, *ids, {'status': 'approved'})
    mug, tee = (item['order_item_id'] for item in returned['items'])

    received = moved(
        client,
        *ids,
        {
            'status': 'received',
            'items': [
                {'order_item_id': mug, 'received': 1, 'restock': False},
                {'order_item_id': tee, 'received': 1, 'restock': True},
            ],
            'deduction': Decimal('4.99'),
            'reason': 'Return shipping',
        },
    )

    assert received['deduction'] == 4.99
    assert stock_of(client, 101)['on_hand'] == 8  # the mug was not put back
    assert stock_of(client, 102) is None  # the T-shirt is not tracked, and stays so
    refund = Refund.get_by_id(received['refund_id'])
    assert (refund.amount, refund.status) == (Decimal('74.99'), 'succeeded')  # 29.99 + 49.99 - 4.99
    assert 'Return shipping' in refund.reason
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 74.99
    [event] = events_of(order['order_id'], 'order_refunded')
    assert event['refund_id'] == received['refund_id']


def test_a_discounted_taxed_line_returned_in_three_receipts_gives_back_exactly_what_was_paid(
    client, shop, returns_clock
):
    send(
        client,
        'PUT',
        '/tax-rates/US-IL',
        {'name': 'Illinois', 'rates': {'standard': Decimal('0.0625')}, 'shipping': True},
    )
    send(client, 'PUT', '/discounts/TEN', {'type': 'percent', 'value': 10})
    order = create_order(
        client,
        items=[{'product_id': 101, 'quantity': 3}],
        user_email='ada@example.com',
        shipping_address=ILLINOIS,
        discount_code='TEN',
    )
    for status in ('paid', 'shipped', 'delivered'):
        changed(client, order['order_id'], status)
    mug = order['items'][0]  # 3 x 29.99 = 89.97, less 9.00, plus 6.25 % of 80.97 (5.06)

    amounts = []
    for _ in range(3):
        returned = opened(client, order['order_id'], [line(order, 0, 1)])
        ids = (order['order_id'], returned['return_id'])
        moved(client, *ids, {'status': 'approved'})
        received = moved(client, *ids, receipt(returned))
        amounts.append(Refund.get_by_id(received['refund_id']).amount)

    assert (mug['discount'], mug['tax']) == (9.0, 5.06)
    # 86.03 / 3 is 28.6766...: rounded cumulatively, the three add up to the line.
    assert amounts == [Decimal('28.68'), Decimal('28.67'), Decimal('28.68')]
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 86.03
    assert stock_of(client, 101)['on_hand'] == 10


def test_returned_units_once_refunded_are_never_refunded_again_by_line(client, shop, returns_clock):
    order = delivered(client)
    returned = opened(client, order['order_id'], [line(order, 0, 2)])
    ids = (order['order_id'], returned['return_id'])
    moved(client, *ids, {'status': 'approved'})
    moved(client, *ids, receipt(returned))

    again = send(
        client,
        'POST',
        f'/orders/{order["order_id"]}/refunds',
        {'items': [line(order, 0, 1)]},
    )

    error_of(again, 409, 'ConflictError')
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 59.98


def test_nothing_paid_or_nothing_left_after_the_deduction_records_no_refund(
    client, shop, returns_clock
):
    unpaid = delivered(client, paid=False)
    paid = delivered(client)
    results = []
    for order, extra in (
        (unpaid, {}),
        (paid, {'deduction': Decimal('29.99'), 'reason': 'Restocking fee'}),
    ):
        returned = opened(client, order['order_id'], [line(order, 0, 1)])
        ids = (order['order_id'], returned['return_id'])
        moved(client, *ids, {'status': 'approved'})
        results.append(moved(client, *ids, {**receipt(returned), **extra}))

    assert [result['refund_id'] for result in results] == [None, None]
    assert Refund.select().count() == 0
    assert stock_of(client, 101)['on_hand'] == 8  # 10 - 2 - 2 sold + 2 back


# -- idempotency, history, events ---------------------------------------------------


def test_an_idempotency_key_replays_the_return_and_refuses_another_body(
    client, shop, returns_clock
):
    order = delivered(client)
    key = {'Idempotency-Key': 'return-1'}

    first = open_return(client, order['order_id'], [line(order)], key)
    again = open_return(client, order['order_id'], [line(order)], key)
    other = open_return(client, order['order_id'], [line(order, 0, 2)], key)

    assert first.status_code == again.status_code == 201
    assert json_of(again) == json_of(first)
    assert again.headers['Idempotent-Replayed'] == 'true'
    error_of(other, 422, 'UnprocessableEntityError')
    assert len(json_of(send(client, 'GET', f'/orders/{order["order_id"]}/returns'))) == 1


def test_every_return_change_is_in_the_order_history_without_a_new_order_version(
    client, shop, returns_clock, ada
):
    order = delivered(client, paid=False)
    returned = opened(client, order['order_id'], [line(order)], ada)
    ids = (order['order_id'], returned['return_id'])
    moved(client, *ids, {'status': 'approved'})
    moved(client, *ids, receipt(returned))

    history = json_of(send(client, 'GET', f'/orders/{order["order_id"]}/history'))
    mine = json_of(send(client, 'GET', f'/orders/{order["order_id"]}/history', headers=ada))

    assert read(client, order['order_id'])['version'] == order['version']
    assert [(entry['version'], entry['status'], entry.get('return_id')) for entry in history] == [
        (1, 'pending', None),
        (2, 'shipped', None),
        (3, 'delivered', None),
        (3, 'requested', returned['return_id']),
        (3, 'approved', returned['return_id']),
        (3, 'received', returned['return_id']),
    ]
    assert history[3]['by']['role'] == 'customer' and history[3]['by']['sub']
    assert mine[4]['by'] == {'role': 'staff'}  # a customer sees the role, not who
    kinds = [event['event_type'] for event in events_of(order['order_id'])]
    assert kinds[-3:] == ['return_requested', 'return_approved', 'return_received']
    assert Outbox.select().where(Outbox.event_type == 'return_requested').count() == 1
