"""Refunds: asked for by staff, by a cancellation or by a late payment; sent
to localstripe after the commit with the real stripe library (through a
proxy that plays Stripe down, slow or broken), taken over by the refund
relay; on SQLite and MariaDB."""

from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib.payments import gateway
from chalicelib.storage.models import Order, Outbox, Refund
from chalicelib.wiring import runtime
from tests.stripe_support import (
    NAMESPACE,
    card_paid_order,
    deliver,
    event_body,
    events_of,
    mails,
    paid_intent,
    pay_with_card,
    run_relay,
    start_payment,
    stripe_refunds,
)
from tests.support import (
    ILLINOIS,
    WINDOW,
    create_order,
    error_of,
    field_errors,
    json_of,
    place,
    put,
    put_product,
    run_expiry,
    send,
    staff_client,
)


def refund(client, order_id, body=None, headers=None):
    return send(client, 'POST', f'/orders/{order_id}/refunds', body or {}, headers)


def read(client, order_id):
    return json_of(send(client, 'GET', f'/orders/{order_id}'))


def refunds_of(client, order_id):
    return json_of(send(client, 'GET', f'/orders/{order_id}/refunds'))


@pytest.fixture
def quick_stripe(monkeypatch):
    """Requests give up on Stripe after half a second (the relay waits longer)."""
    monkeypatch.setitem(gateway._CLIENTS, gateway.REQUEST, ((0.5, 0.5), 0))


# -- asking -------------------------------------------------------------------


def test_a_partial_refund_goes_to_stripe_once_and_the_order_shows_it(
    client, stripe, localstripe, tmp_path
):
    order, intent_id = card_paid_order(client, localstripe)

    response = refund(client, order['order_id'], {'amount': 10, 'reason': 'Scratched mug'})

    created = json_of(response)
    assert response.status_code == 201, response.body
    assert (
        response.headers['Location']
        == f'/orders/{order["order_id"]}/refunds/{created["refund_id"]}'
    )
    assert {**created, 'refund_id': 1, 'created_at': 'x'} == {
        'refund_id': 1,
        'order_id': order['order_id'],
        'amount': 10.0,
        'currency': 'USD',
        'status': 'pending',
        'reason': 'Scratched mug',
        'items': None,
        'created_at': 'x',
    }
    after = read(client, order['order_id'])
    assert after['payment'] == {
        'status': 'partially_refunded',
        'amount_paid': 109.97,
        'amount_refunded': 10.0,
        'provider': 'stripe',
        'reference': intent_id,
    }
    assert after['version'] == order['version'] + 1
    assert json_of(send(client, 'GET', response.headers['Location']))['status'] == 'succeeded'
    assert stripe_refunds(localstripe, intent_id) == [1000]
    assert stripe.refund_creates() == [f'{NAMESPACE}-refund-{created["refund_id"]}']
    [event] = events_of(order['order_id'], 'order_refunded')
    assert (
        event['refund_id'],
        event['amount'],
        event['amount_refunded'],
        event['reason'],
        event['currency'],
    ) == (created['refund_id'], 10.0, 10.0, 'Scratched mug', 'USD')
    [mail] = [mail for mail in mails(tmp_path) if 'Refund for order' in mail]
    assert 'We have refunded 10.00 USD' in mail and 'Scratched mug' in mail


def test_a_refund_by_lines_refunds_quantity_times_price_and_never_more_than_ordered(
    client, stripe, localstripe
):
    order, intent_id = card_paid_order(client, localstripe)
    mug = order['items'][0]  # 2 x 29.99

    first = refund(
        client,
        order['order_id'],
        {'items': [{'order_item_id': mug['order_item_id'], 'quantity': 1}]},
    )
    too_many = refund(
        client,
        order['order_id'],
        {'items': [{'order_item_id': mug['order_item_id'], 'quantity': 2}]},
    )
    unknown = refund(
        client, order['order_id'], {'items': [{'order_item_id': 999999, 'quantity': 1}]}
    )

    assert json_of(first)['amount'] == 29.99
    assert json_of(first)['items'] == [{'order_item_id': mug['order_item_id'], 'quantity': 1}]
    error_of(too_many, 409, 'ConflictError')
    assert 'items' in field_errors(unknown)
    assert stripe_refunds(localstripe, intent_id) == [2999]


def test_a_discounted_taxed_line_refunded_in_three_steps_returns_exactly_what_was_paid_for_it(
    client, stripe
):
    send(
        client,
        'PUT',
        '/tax-rates/US-IL',
        {'name': 'Illinois', 'rates': {'standard': Decimal('0.0625')}, 'shipping': True},
    )
    send(client, 'PUT', '/discounts/TEN', {'type': 'percent', 'value': 10})
    put_product(client, 101, name='Blue mug', unit_price=Decimal('29.99'), currency='USD')
    order = create_order(
        client,
        items=[{'product_id': 101, 'quantity': 3}],
        user_email='ada@example.com',
        shipping_address=ILLINOIS,
        discount_code='TEN',
    )
    put(client, order['order_id'], 'paid')
    mug = order['items'][0]  # 3 x 29.99 = 89.97, less 9.00, plus 6.25 % of 80.97 (5.06)
    one = {'items': [{'order_item_id': mug['order_item_id'], 'quantity': 1}]}

    steps = [json_of(refund(client, order['order_id'], one))['amount'] for _ in range(3)]
    fourth = refund(client, order['order_id'], one)

    assert (mug['discount'], mug['tax']) == (9.0, 5.06)
    # 86.03 / 3 is 28.6766...: rounded cumulatively, never 3 x 28.68 nor 3 x 28.67.
    assert steps == [28.68, 28.67, 28.68]
    assert sum(map(Decimal, map(str, steps))) == Decimal('86.03')
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 86.03
    error_of(fourth, 409, 'ConflictError')


def test_the_shipping_with_its_tax_is_refunded_once_beside_lines_or_alone(client, stripe):
    send(
        client,
        'PUT',
        '/tax-rates/US-IL',
        {'name': 'Illinois', 'rates': {'standard': Decimal('0.0625')}, 'shipping': True},
    )
    send(
        client,
        'PUT',
        '/shipping-methods/standard',
        {'name': 'Standard', 'price': Decimal('4.99'), 'currency': 'USD', 'countries': ['US']},
    )
    put_product(client, 101, name='Blue mug', unit_price=Decimal('29.99'), currency='USD')
    order = create_order(
        client,
        items=[{'product_id': 101, 'quantity': 2}],
        user_email='ada@example.com',
        shipping_address=ILLINOIS,
        shipping_method='standard',
    )
    put(client, order['order_id'], 'paid')
    mug = order['items'][0]  # 2 x 29.99 plus 3.75 of tax; shipping 4.99 plus 0.31 of tax

    first = refund(
        client,
        order['order_id'],
        {'items': [{'order_item_id': mug['order_item_id'], 'quantity': 1}], 'shipping': True},
    )
    again = refund(client, order['order_id'], {'shipping': True})
    rest = refund(client, order['order_id'])

    assert order['order_total'] == 69.03
    # 63.73 for the line: half of it, 31.865, rounds up; the rest is 31.86.
    assert json_of(first)['amount'] == 37.17
    error_of(again, 409, 'ConflictError')
    assert json_of(rest)['amount'] == 31.86
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 69.03


def test_a_refund_of_nothing_in_particular_refunds_everything_left(client, stripe, localstripe):
    order, intent_id = card_paid_order(client, localstripe)
    refund(client, order['order_id'], {'amount': Decimal('9.97')})

    rest = json_of(refund(client, order['order_id']))

    assert rest['amount'] == 100.0
    assert read(client, order['order_id'])['payment']['status'] == 'refunded'
    error_of(refund(client, order['order_id']), 409, 'ConflictError')
    assert sorted(stripe_refunds(localstripe, intent_id)) == [997, 10000]


def test_a_refund_beyond_what_is_left_or_of_an_unpaid_order_is_a_409(client, stripe, localstripe):
    order, _ = card_paid_order(client, localstripe)
    unpaid = create_order(client)

    error_of(refund(client, order['order_id'], {'amount': Decimal('109.98')}), 409, 'ConflictError')
    error_of(refund(client, unpaid['order_id'], {'amount': 1}), 409, 'ConflictError')
    assert Refund.select().count() == 0


@pytest.mark.parametrize(
    'body',
    [
        {'amount': 1, 'items': [{'order_item_id': 1, 'quantity': 1}]},
        {'amount': 1, 'shipping': True},
        {'shipping': 'true'},
        {'amount': Decimal('1.001')},
        {'amount': 0},
        {'amount': '1'},
        {'reason': ''},
        {'reason': 'a\x00b'},
        {'items': []},
        {'items': [{'order_item_id': 1, 'quantity': 0}]},
        {'surprise': 1},
    ],
)
def test_a_refund_body_outside_the_rules_is_a_400(client, stripe, localstripe, body):
    order, _ = card_paid_order(client, localstripe)

    field_errors(refund(client, order['order_id'], body))


def test_only_staff_refund_and_the_order_read_rules_cover_refunds(
    app_module, client, stripe, localstripe, issuer
):
    order, _ = card_paid_order(client, localstripe, user_id=7)
    refund(client, order['order_id'], {'amount': 1})
    with staff_client(app_module.app, issuer.mint(user_id=7)) as owner:
        error_of(refund(owner, order['order_id'], {'amount': 1}), 403, 'ForbiddenError')
        assert len(refunds_of(owner, order['order_id'])) == 1
    with staff_client(app_module.app, issuer.mint(user_id=8)) as stranger:
        error_of(
            send(stranger, 'GET', f'/orders/{order["order_id"]}/refunds'), 404, 'NotFoundError'
        )
    with staff_client(app_module.app, issuer.mint(role='service')) as service:
        error_of(refund(service, order['order_id'], {'amount': 1}), 403, 'ForbiddenError')
    error_of(send(client, 'GET', f'/orders/{order["order_id"]}/refunds/999'), 404, 'NotFoundError')


def test_a_repeated_refund_with_one_idempotency_key_refunds_once(client, stripe, localstripe):
    order, intent_id = card_paid_order(client, localstripe)
    key = {'Idempotency-Key': 'refund-once'}

    first = refund(client, order['order_id'], {'amount': 5}, key)
    again = refund(client, order['order_id'], {'amount': 5}, key)
    other = refund(client, order['order_id'], {'amount': 6}, key)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers['Idempotent-Replayed'] == 'true'
    assert json_of(again) == json_of(first)
    error_of(other, 422, 'UnprocessableEntityError')
    assert stripe_refunds(localstripe, intent_id) == [500]


def test_a_payment_taken_outside_is_refunded_at_once(client, stripe):
    order = create_order(client, user_email='ada@example.com')
    put(client, order['order_id'], 'paid')

    created = json_of(refund(client, order['order_id'], {'amount': 9}))

    assert created['status'] == 'succeeded'
    assert read(client, order['order_id'])['payment'] == {
        'status': 'partially_refunded',
        'amount_paid': 109.97,
        'amount_refunded': 9.0,
        'provider': None,
        'reference': None,
    }
    assert stripe.refund_creates() == []
    assert len(events_of(order['order_id'], 'order_refunded')) == 1


def test_a_jpy_order_is_charged_and_refunded_in_whole_yen(client, stripe, localstripe):
    order = create_order(client, items=[{'product_id': 1, 'quantity': 2, 'price_at_order': 1200}])
    Order.update(currency='JPY').where(Order.order_id == order['order_id']).execute()
    intent = paid_intent(client, localstripe, order['order_id'])
    deliver(client, event_body('payment_intent.succeeded', intent))

    refund(client, order['order_id'], {'amount': 500})

    assert (intent['amount'], intent['currency']) == (2400, 'jpy')
    assert stripe_refunds(localstripe, intent['id']) == [500]
    field_errors(refund(client, order['order_id'], {'amount': Decimal('0.5')}))


# -- cancellations --------------------------------------------------------------


def test_cancelling_a_card_paid_order_refunds_it_in_one_change(
    client, stripe, localstripe, tmp_path
):
    order, intent_id = card_paid_order(client, localstripe)

    cancelled = json_of(put(client, order['order_id'], 'cancelled'))

    assert cancelled['version'] == order['version'] + 1
    [event] = events_of(order['order_id'], 'order_cancelled')
    assert event['refund_due'] == 109.97
    [made] = refunds_of(client, order['order_id'])
    assert (made['amount'], made['status']) == (109.97, 'succeeded')
    assert stripe_refunds(localstripe, intent_id) == [10997]
    after = read(client, order['order_id'])
    assert (after['status'], after['payment']['status']) == ('cancelled', 'refunded')
    history = json_of(send(client, 'GET', f'/orders/{order["order_id"]}/history'))
    assert [entry['status'] for entry in history][-2:] == ['cancelled', 'cancelled']


def test_cancelling_an_order_paid_outside_refunds_it_within_the_cancellation(client, stripe):
    order = create_order(client)
    paid = json_of(put(client, order['order_id'], 'paid'))

    cancelled = json_of(put(client, order['order_id'], 'cancelled'))

    assert cancelled['version'] == paid['version'] + 1
    assert cancelled['payment']['status'] == 'refunded'
    assert [row.event_type for row in Outbox.select().order_by(Outbox.id)][-2:] == [
        'order_cancelled',
        'order_refunded',
    ]


# -- Stripe down, slow, broken ------------------------------------------------------


@pytest.mark.parametrize('mode', ['down', '500', 'slow'])
def test_a_refund_stripe_does_not_take_waits_for_the_relay_which_sends_it_once(
    app_module, client, stripe, localstripe, quick_stripe, mode
):
    order, intent_id = card_paid_order(client, localstripe)
    stripe.mode = mode

    created = json_of(refund(client, order['order_id'], {'amount': 7}))

    assert created['status'] == 'pending'
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 0
    stripe.mode = 'ok'
    assert run_relay(app_module) == {'answered': 1, 'intents_cancelled': 0}
    assert refunds_of(client, order['order_id'])[0]['status'] == 'succeeded'
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 7.0
    # A slow Stripe made the refund the request gave up waiting for: the relay
    # finds it instead of making another.
    assert stripe_refunds(localstripe, intent_id) == [700]
    assert set(stripe.refund_creates()) == {f'{NAMESPACE}-refund-{created["refund_id"]}'}
    assert run_relay(app_module) == {'answered': 0, 'intents_cancelled': 0}


def test_an_order_whose_refund_is_still_pending_is_not_deleted_until_it_is_sent(
    app_module, client, stripe, localstripe, quick_stripe
):
    """Deleting the order would take the refund's row with it, before the
    relay sends it: the money owed would be dropped without a trace."""
    order, intent_id = card_paid_order(client, localstripe)
    stripe.mode = 'down'
    assert json_of(put(client, order['order_id'], 'cancelled'))['status'] == 'cancelled'
    [pending] = refunds_of(client, order['order_id'])
    assert pending['status'] == 'pending'

    refused = send(client, 'DELETE', f'/orders/{order["order_id"]}')

    assert error_of(refused, 409, 'ConflictError')['Message'] == (
        'A refund of this order is still being sent; delete it once it has succeeded or failed'
    )
    assert Refund.get_by_id(pending['refund_id']).status == 'pending'
    stripe.mode = 'ok'
    assert run_relay(app_module) == {'answered': 1, 'intents_cancelled': 0}
    assert stripe_refunds(localstripe, intent_id) == [10997]
    assert refunds_of(client, order['order_id'])[0]['status'] == 'succeeded'
    assert send(client, 'DELETE', f'/orders/{order["order_id"]}').status_code == 204
    assert send(client, 'GET', f'/orders/{order["order_id"]}').status_code == 404


def test_refunds_the_relay_could_not_send_are_free_for_its_next_run(
    app_module, client, stripe, localstripe
):
    """Stripe down during a relay run: neither the refund it tried nor the
    rest of its batch waits out a lease; the next run sends them all."""
    order, intent_id = card_paid_order(client, localstripe)
    stripe.mode = 'down'
    for amount in (1, 2):
        assert json_of(refund(client, order['order_id'], {'amount': amount}))['status'] == 'pending'

    assert run_relay(app_module) == {'answered': 0, 'intents_cancelled': 0}
    stripe.mode = 'ok'

    assert run_relay(app_module) == {'answered': 2, 'intents_cancelled': 0}
    assert sorted(stripe_refunds(localstripe, intent_id)) == [100, 200]


def test_the_relay_leaves_a_refund_whose_request_still_holds_it(
    app_module, client, stripe, localstripe, monkeypatch
):
    order, intent_id = card_paid_order(client, localstripe)
    monkeypatch.setattr(app_module.runtime.refund_service(), 'send', lambda claims, *a: 0)

    refund(client, order['order_id'], {'amount': 3})
    monkeypatch.undo()

    assert run_relay(app_module) == {'answered': 0, 'intents_cancelled': 0}
    assert stripe_refunds(localstripe, intent_id) == []


def test_a_refund_stripe_refuses_fails_and_is_counted(client, stripe, localstripe, stdout):
    order, _ = card_paid_order(client, localstripe)
    stripe.mode = '400'

    created = json_of(refund(client, order['order_id'], {'amount': 2}))

    [failed] = refunds_of(client, order['order_id'])
    assert (created['status'], failed['status']) == ('pending', 'failed')
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 0
    assert stdout.metrics('RefundFailures')
    stripe.mode = 'ok'
    assert json_of(refund(client, order['order_id'], {'amount': 2}))['status'] == 'pending'


# -- Stripe's word on a refund ----------------------------------------------------


def test_a_refund_event_settles_a_refund_stripe_held_as_pending(client, stripe, localstripe):
    order, intent_id = card_paid_order(client, localstripe)
    stripe.mode = 'down'
    created = json_of(refund(client, order['order_id'], {'amount': 4}))
    stripe.mode = 'ok'
    made = (
        localstripe.client()
        .v1.refunds.create(
            params={
                'payment_intent': intent_id,
                'amount': 400,
                'metadata': {'refund_id': str(created['refund_id']), 'deployment': NAMESPACE},
            }
        )
        .to_dict()
    )
    body = event_body('refund.updated', made)

    assert deliver(client, body).status_code == 200
    assert deliver(client, body).status_code == 200

    assert refunds_of(client, order['order_id'])[0]['status'] == 'succeeded'
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 4.0
    assert len(events_of(order['order_id'], 'order_refunded')) == 1
    history = json_of(send(client, 'GET', f'/orders/{order["order_id"]}/history'))
    assert history[-1]['by']['role'] == 'payment'


def test_a_late_payment_for_an_order_paid_meanwhile_is_refunded(client, stripe, localstripe):
    order = create_order(client)
    intent_id = json_of(start_payment(client, order['order_id']))['payment_intent_id']
    put(client, order['order_id'], 'paid')
    intent = pay_with_card(localstripe.client(), intent_id)

    deliver(client, event_body('payment_intent.succeeded', intent))

    after = read(client, order['order_id'])
    assert after['payment']['amount_paid'] == 219.94
    assert after['payment']['amount_refunded'] == 109.97
    assert stripe_refunds(localstripe, intent_id) == [10997]


def test_a_refund_stripe_fails_later_is_failed_by_its_event(client, stripe, localstripe, stdout):
    order, intent_id = card_paid_order(client, localstripe)
    stripe.mode = 'down'
    created = json_of(refund(client, order['order_id'], {'amount': 4}))
    failed = {
        'id': 're_failed',
        'object': 'refund',
        'amount': 400,
        'currency': 'usd',
        'status': 'failed',
        'failure_reason': 'expired_or_canceled_card',
        'payment_intent': intent_id,
        'metadata': {'refund_id': str(created['refund_id']), 'deployment': NAMESPACE},
    }

    assert deliver(client, event_body('refund.failed', failed)).status_code == 200

    assert refunds_of(client, order['order_id'])[0]['status'] == 'failed'
    assert read(client, order['order_id'])['payment']['amount_refunded'] == 0
    assert stdout.metrics('RefundFailures')


def test_a_payment_for_an_order_that_expired_unpaid_is_refunded_in_full(
    client, stripe, localstripe, service_clock
):
    put_product(client, 101, name='Blue mug', unit_price=5, currency='USD', stock={'on_hand': 10})
    order_id = place(client, quantity=2)
    intent_id = json_of(start_payment(client, order_id))['payment_intent_id']
    service_clock.advance(WINDOW + timedelta(seconds=1))
    assert run_expiry(client) == {'expired': 1}
    intent = pay_with_card(localstripe.client(), intent_id)

    assert deliver(client, event_body('payment_intent.succeeded', intent)).status_code == 200

    after = read(client, order_id)
    assert (after['status'], after['payment']['status'], after['payment']['amount_paid']) == (
        'cancelled',
        'refunded',
        10.0,
    )
    assert stripe_refunds(localstripe, intent_id) == [1000]
    assert json_of(send(client, 'GET', '/products/101'))['stock']['reserved'] == 0


def test_expiry_applies_a_payment_stripe_took_whose_webhook_is_late_instead_of_expiring(
    client, stripe, localstripe, service_clock
):
    put_product(client, 101, name='Blue mug', unit_price=5, currency='USD', stock={'on_hand': 10})
    order_id = place(client, quantity=2)
    intent_id = json_of(start_payment(client, order_id))['payment_intent_id']
    pay_with_card(localstripe.client(), intent_id)  # its webhook has not come yet
    service_clock.advance(WINDOW + timedelta(seconds=1))

    assert run_expiry(client) == {'expired': 0}

    after = read(client, order_id)
    assert (after['status'], after['payment']['status'], after['payment']['reference']) == (
        'paid',
        'paid',
        intent_id,
    )
    assert json_of(send(client, 'GET', f'/orders/{order_id}/history'))[-1]['by'] == {
        'role': 'payment',
        'sub': intent_id,
    }
    assert stripe_refunds(localstripe, intent_id) == []


def test_expiry_leaves_an_order_with_an_intent_while_stripe_does_not_answer(
    client, stripe, localstripe, service_clock
):
    put_product(client, 101, name='Blue mug', unit_price=5, currency='USD', stock={'on_hand': 10})
    order_id = place(client)
    start_payment(client, order_id)
    service_clock.advance(WINDOW + timedelta(seconds=1))
    stripe.mode = 'down'

    assert run_expiry(client) == {'expired': 0}
    assert read(client, order_id)['status'] == 'pending'

    stripe.mode = 'ok'
    assert run_expiry(client) == {'expired': 1}
    assert read(client, order_id)['status'] == 'cancelled'


def test_a_payment_for_a_deleted_order_is_refunded_in_full_once_and_counted(
    client, stripe, localstripe, stdout
):
    order = create_order(client)
    intent_id = json_of(start_payment(client, order['order_id']))['payment_intent_id']
    intent = pay_with_card(localstripe.client(), intent_id)  # its webhook has not come yet
    assert send(client, 'DELETE', f'/orders/{order["order_id"]}').status_code == 204
    body = event_body('payment_intent.succeeded', intent, 'evt_for_a_deleted_order')
    stripe.mode = 'down'

    assert deliver(client, body).status_code == 503  # Stripe delivers it again
    stripe.mode = 'ok'
    assert deliver(client, body).status_code == 200
    assert deliver(client, body).status_code == 200

    assert stripe_refunds(localstripe, intent_id) == [10997]
    assert len(stdout.metrics('PaymentMismatches')) == 1
    assert set(stripe.refund_creates()) == {f'{NAMESPACE}-refund-{intent_id}'}


def test_expiry_expires_an_order_whose_intent_paid_another_amount(
    client, stripe, localstripe, service_clock, stdout, monkeypatch
):
    put_product(client, 101, name='Blue mug', unit_price=5, currency='USD', stock={'on_hand': 10})
    order_id = place(client, quantity=2)
    intent_id = json_of(start_payment(client, order_id))['payment_intent_id']
    pay_with_card(localstripe.client(), intent_id)
    built = runtime.stripe_gateway()
    answer = built.payment_intent
    monkeypatch.setattr(
        built, 'payment_intent', lambda pid: {**answer(pid), 'amount_received': 100}
    )
    service_clock.advance(WINDOW + timedelta(seconds=1))

    assert run_expiry(client) == {'expired': 1}

    assert read(client, order_id)['status'] == 'cancelled'
    assert len(stdout.metrics('PaymentMismatches')) == 1
