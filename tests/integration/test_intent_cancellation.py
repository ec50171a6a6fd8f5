"""An order that goes unpaid (cancelled, expired, deleted) takes its
PaymentIntent with it: cancelled at Stripe after the commit, or by the
refund relay when Stripe did not answer; on SQLite and MariaDB, against
localstripe."""

from datetime import datetime, timedelta

from chalicelib.core.clock import utcnow
from chalicelib.orders.service import INTENT_CLAIM
from chalicelib.storage.models import IntentCancellation, Order
from chalicelib.wiring import runtime
from tests.stripe_support import (
    card_paid_order,
    pay_with_card,
    run_relay,
    start_payment,
    stripe_refunds,
)
from tests.support import create_order, json_of, put, run_expiry, send


def order_with_intent(client):
    """A pending order whose customer started a card payment; (order id, intent id)."""
    order_id = create_order(client)['order_id']
    return order_id, json_of(start_payment(client, order_id))['payment_intent_id']


def intent_status(localstripe, intent_id):
    return localstripe.client().v1.payment_intents.retrieve(intent_id).status


def test_cancelling_an_unpaid_order_cancels_its_payment_intent(client, stripe, localstripe):
    order_id, intent_id = order_with_intent(client)

    assert put(client, order_id, 'cancelled').status_code == 200

    assert intent_status(localstripe, intent_id) == 'canceled'
    assert IntentCancellation.select().count() == 0  # done: nothing left to the relay


def test_deleting_an_unpaid_order_cancels_its_payment_intent(client, stripe, localstripe):
    order_id, intent_id = order_with_intent(client)

    assert send(client, 'DELETE', f'/orders/{order_id}').status_code == 204

    assert intent_status(localstripe, intent_id) == 'canceled'


def test_an_order_that_expires_unpaid_has_its_payment_intent_cancelled(client, stripe, localstripe):
    order_id, intent_id = order_with_intent(client)
    # Placed long before any payment window.
    Order.update(created_at=datetime(2000, 1, 1)).where(Order.order_id == order_id).execute()

    assert run_expiry(client) == {'expired': 1}

    assert intent_status(localstripe, intent_id) == 'canceled'


def test_an_intent_stripe_could_not_cancel_then_is_cancelled_by_the_relay(
    app_module, client, stripe, localstripe
):
    cancelled, cancelled_intent = order_with_intent(client)
    deleted, deleted_intent = order_with_intent(client)
    stripe.mode = 'down'

    # The order goes all the same: the intent is the relay's.
    assert put(client, cancelled, 'cancelled').status_code == 200
    assert send(client, 'DELETE', f'/orders/{deleted}').status_code == 204
    assert intent_status(localstripe, cancelled_intent) == 'requires_payment_method'
    stripe.mode = 'ok'

    # Freed by the failed attempt: taken by the next run, not a minute later.
    assert run_relay(app_module) == {'answered': 0, 'intents_cancelled': 2}

    assert intent_status(localstripe, cancelled_intent) == 'canceled'
    assert intent_status(localstripe, deleted_intent) == 'canceled'
    assert run_relay(app_module) == {'answered': 0, 'intents_cancelled': 0}


def test_the_relay_leaves_an_intent_its_writer_still_holds_until_its_claim_lapses(
    app_module, client, stripe, localstripe, monkeypatch
):
    order_id, intent_id = order_with_intent(client)
    # A writer that died after its commit, before it reached Stripe.
    monkeypatch.setattr(runtime.order_service(), 'intent_cancels', None)
    assert put(client, order_id, 'cancelled').status_code == 200

    assert run_relay(app_module) == {'answered': 0, 'intents_cancelled': 0}
    assert intent_status(localstripe, intent_id) == 'requires_payment_method'

    relay = runtime.intent_cancellations()
    monkeypatch.setattr(relay, 'clock', lambda: utcnow() + INTENT_CLAIM + timedelta(seconds=1))
    assert run_relay(app_module) == {'answered': 0, 'intents_cancelled': 1}
    assert intent_status(localstripe, intent_id) == 'canceled'


def test_cancelling_a_card_paid_order_refunds_it_and_cancels_nothing(
    app_module, client, stripe, localstripe
):
    order, intent_id = card_paid_order(client, localstripe)

    assert put(client, order['order_id'], 'cancelled').status_code == 200

    assert stripe_refunds(localstripe, intent_id) == [10997]
    assert not [path for method, path, _ in stripe.calls if path.endswith('/cancel')]
    assert IntentCancellation.select().count() == 0
    assert run_relay(app_module)['intents_cancelled'] == 0


def test_an_intent_paid_before_its_order_was_cancelled_is_left_to_its_late_payment(
    app_module, client, stripe, localstripe
):
    """Stripe refuses to cancel it: nothing left to retry; its webhook, when
    it comes, refunds it (test_payments.py)."""
    order_id, intent_id = order_with_intent(client)
    pay_with_card(localstripe.client(), intent_id)  # its webhook has not come yet

    assert put(client, order_id, 'cancelled').status_code == 200

    assert [path for method, path, _ in stripe.calls if path.endswith('/cancel')] == [
        f'/v1/payment_intents/{intent_id}/cancel'
    ]
    assert intent_status(localstripe, intent_id) == 'succeeded'
    assert IntentCancellation.select().count() == 0
    assert run_relay(app_module)['intents_cancelled'] == 0
