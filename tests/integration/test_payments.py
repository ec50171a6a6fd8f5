"""Card payments: POST /orders/{id}/payment against localstripe with the real
stripe library, and POST /webhooks/stripe with bodies signed as Stripe signs
them; on SQLite and MariaDB."""

import json
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from chalicelib.platform.config import get_settings
from chalicelib.storage.models import StripeEvent
from chalicelib.wiring import runtime
from tests.stripe_support import (
    NAMESPACE,
    WEBHOOK_SECRET,
    deliver,
    event_body,
    events_of,
    mails,
    paid_intent,
    pay_with_card,
    signature,
    start_payment,
)
from tests.support import create_order, error_of, json_of, put, send, staff_client

ROOT = Path(__file__).resolve().parents[2]


# -- paying ---------------------------------------------------------------------


def test_payment_creates_one_payment_intent_for_the_total_in_minor_units(
    client, stripe, localstripe
):
    order = create_order(client, user_email='ada@example.com')

    response = start_payment(client, order['order_id'])

    answer = json_of(response)
    assert response.status_code == 200, response.body
    assert set(answer) == {'payment_intent_id', 'client_secret', 'amount', 'currency', 'status'}
    assert (answer['amount'], answer['currency'], answer['status']) == (
        109.97,
        'USD',
        'requires_payment_method',
    )
    intent = localstripe.client().v1.payment_intents.retrieve(answer['payment_intent_id'])
    assert (intent.amount, intent.currency) == (10997, 'usd')
    assert intent.metadata['order_id'] == str(order['order_id'])
    assert intent.metadata['deployment'] == NAMESPACE
    assert intent.client_secret == answer['client_secret']
    assert [key for method, path, key in stripe.calls if path == '/v1/payment_intents'] == [
        f'{NAMESPACE}-payment-{order["order_id"]}'
    ]


def test_a_repeated_payment_call_answers_the_same_payment_intent(client, stripe):
    order = create_order(client)

    first = json_of(start_payment(client, order['order_id']))
    second = json_of(start_payment(client, order['order_id']))

    assert second == first
    assert (
        sum(
            1
            for method, path, _ in stripe.calls
            if method == 'POST' and path == '/v1/payment_intents'
        )
        == 1
    )


def test_only_a_pending_order_takes_a_payment(client, stripe):
    order = create_order(client)
    put(client, order['order_id'], 'cancelled')

    error_of(start_payment(client, order['order_id']), 409, 'ConflictError')


def test_a_customer_pays_their_own_order_and_never_sees_anothers(
    app_module, client, stripe, issuer
):
    mine = create_order(client, user_id=7)
    theirs = create_order(client, user_id=8)
    with staff_client(app_module.app, issuer.mint(user_id=7)) as customer:
        assert start_payment(customer, mine['order_id']).status_code == 200
        error_of(start_payment(customer, theirs['order_id']), 404, 'NotFoundError')
    with staff_client(app_module.app, issuer.mint(role='service')) as service:
        error_of(start_payment(service, mine['order_id']), 403, 'ForbiddenError')


def test_payment_without_stripe_configured_is_a_clear_error(client):
    order = create_order(client)

    body = error_of(start_payment(client, order['order_id']), 501, 'NotImplementedError')

    assert 'not configured' in body['Message']


@pytest.mark.parametrize('mode', ['down', '500'])
def test_payment_while_stripe_is_unreachable_is_a_503(client, stripe, mode):
    order = create_order(client)
    stripe.mode = mode

    error_of(start_payment(client, order['order_id']), 503, 'ServiceUnavailable')


# -- webhooks -------------------------------------------------------------------


def test_a_succeeded_payment_pays_the_order_once(client, stripe, localstripe, tmp_path):
    order = create_order(client, user_email='ada@example.com')
    intent = paid_intent(client, localstripe, order['order_id'])
    body = event_body('payment_intent.succeeded', intent, 'evt_paid_1')

    response = deliver(client, body)
    again = deliver(client, body)

    assert (response.status_code, again.status_code) == (200, 200)
    paid = json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))
    assert (paid['status'], paid['version']) == ('paid', 2)
    assert paid['payment'] == {
        'status': 'paid',
        'amount_paid': 109.97,
        'amount_refunded': 0,
        'provider': 'stripe',
        'reference': intent['id'],
    }
    history = json_of(send(client, 'GET', f'/orders/{order["order_id"]}/history'))
    assert history[-1]['by'] == {'role': 'payment', 'sub': 'evt_paid_1'}
    assert [event['status'] for event in events_of(order['order_id'], 'order_updated')] == ['paid']
    assert any('is now paid' in mail for mail in mails(tmp_path))


@pytest.mark.parametrize('sig', ['', 't=1,v1=00', 'garbage'])
def test_a_webhook_with_a_missing_or_bad_signature_is_a_400_and_changes_nothing(
    client, stripe, localstripe, sig, logged
):
    order = create_order(client)
    intent = paid_intent(client, localstripe, order['order_id'])
    body = event_body('payment_intent.succeeded', intent)

    response = client.http.request(
        'POST',
        '/webhooks/stripe',
        headers={
            'Authorization': None,
            'Content-Type': 'application/json',
            **({'Stripe-Signature': sig} if sig else {}),
        },
        body=body,
    )

    error_of(response, 400, 'BadRequestError')
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['status'] == 'pending'
    assert StripeEvent.select().count() == 0
    assert not any(
        intent['client_secret'] in message or 'livemode' in message for message in logged.messages()
    )


def test_a_webhook_signed_with_another_secret_or_too_long_ago_is_refused(
    client, stripe, localstripe
):
    order = create_order(client)
    body = event_body(
        'payment_intent.succeeded', paid_intent(client, localstripe, order['order_id'])
    )

    error_of(deliver(client, body, signature(body, 'whsec_other')), 400, 'BadRequestError')
    stale = signature(body, WEBHOOK_SECRET, int(time.time()) - 3600)
    error_of(deliver(client, body, stale), 400, 'BadRequestError')
    tampered = body.replace(b'"livemode": false', b'"livemode": true')
    error_of(deliver(client, tampered, signature(body)), 400, 'BadRequestError')
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['status'] == 'pending'


def test_a_payment_of_another_amount_changes_nothing_and_is_counted(
    client, stripe, localstripe, stdout
):
    order = create_order(client)
    intent = {
        **paid_intent(client, localstripe, order['order_id']),
        'amount': 100,
        'amount_received': 100,
    }

    response = deliver(client, event_body('payment_intent.succeeded', intent))

    assert response.status_code == 200
    again = json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))
    assert (again['status'], again['version'], again['payment']['status']) == (
        'pending',
        1,
        'unpaid',
    )
    assert stdout.metrics('PaymentMismatches')
    assert any(line['level'] == 'ERROR' and 'mismatch' in line['message'] for line in stdout.logs())


def test_a_payment_for_a_cancelled_order_is_refunded_in_full(client, stripe, localstripe, tmp_path):
    order = create_order(client, user_email='ada@example.com')
    intent_id = json_of(start_payment(client, order['order_id']))['payment_intent_id']
    # Paid before the cancellation, its webhook after (once cancelled, its
    # intent is cancelled too: test_intent_cancellation.py).
    intent = pay_with_card(localstripe.client(), intent_id)
    put(client, order['order_id'], 'cancelled')

    response = deliver(client, event_body('payment_intent.succeeded', intent))

    assert response.status_code == 200
    after = json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))
    assert after['status'] == 'cancelled'
    assert after['payment'] == {
        'status': 'refunded',
        'amount_paid': 109.97,
        'amount_refunded': 109.97,
        'provider': 'stripe',
        'reference': intent_id,
    }
    [refund] = json_of(send(client, 'GET', f'/orders/{order["order_id"]}/refunds'))
    assert (refund['amount'], refund['status']) == (109.97, 'succeeded')
    stripe_refunds = localstripe.client().v1.refunds.list(params={'payment_intent': intent_id})
    assert [r.amount for r in stripe_refunds.data] == [10997]
    assert len(events_of(order['order_id'], 'order_refunded')) == 1
    assert any('We have refunded 109.97 USD' in mail for mail in mails(tmp_path))


def test_a_webhook_body_over_the_size_limit_is_a_413_before_anything_is_read(client, stripe):
    body = event_body('customer.created', {'id': 'cus_1', 'note': 'x' * 300_000})

    error_of(deliver(client, body), 413, 'RequestEntityTooLargeError')


@pytest.mark.parametrize('event_type', ['customer.created', 'payment_intent.created'])
def test_other_stripe_events_are_acknowledged(client, stripe, event_type):
    response = deliver(client, event_body(event_type, {'id': 'obj_1', 'metadata': {}}))

    assert response.status_code == 200


def test_a_payment_for_an_order_this_service_does_not_know_is_acknowledged(client, stripe):
    body = event_body(
        'payment_intent.succeeded',
        {
            'id': 'pi_x',
            'object': 'payment_intent',
            'amount': 100,
            'amount_received': 100,
            'currency': 'usd',
            'metadata': {'order_id': '999999'},
        },
    )

    assert deliver(client, body).status_code == 200


def test_the_webhook_is_the_only_route_without_a_bearer_token_but_health_and_reference(app_module):
    import app

    public = sorted(
        path
        for path, methods in app_module.app.routes.items()
        for method, entry in methods.items()
        if not _requires_token(app, entry.view_function)
    )

    assert public == ['/docs', '/health', '/openapi.json', '/webhooks/stripe']


def _requires_token(app, view):
    """Whether a view goes through app.api (which verifies the bearer token)."""
    return view.__code__ is app.api(lambda: None).__code__


def test_importing_the_app_does_not_import_stripe():
    """stripe costs a cold start about 0.2 s: only the payment paths pay it."""
    found = subprocess.run(
        [sys.executable, '-c', 'import sys, app; print("stripe" in sys.modules)'],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )

    assert found.stdout.strip() == 'False'


def test_stripe_keys_come_from_the_secret_and_never_reach_a_log(
    client, localstripe, monkeypatch, stdout
):
    from moto import mock_aws

    with mock_aws():
        secret = boto3.client('secretsmanager', region_name='us-east-1').create_secret(
            Name='orders/dev/stripe',
            SecretString=json.dumps(
                {'api_key': 'sk_test_from_secret', 'webhook_secret': WEBHOOK_SECRET}
            ),
        )
        monkeypatch.setenv('STRIPE_SECRET_ARN', secret['ARN'])
        monkeypatch.setenv('STRIPE_API_BASE', localstripe.url)
        runtime.reset()
        order = create_order(client)

        paid = start_payment(client, order['order_id'])
        hook = deliver(client, event_body('customer.created', {'id': 'cus_1'}))

    assert (paid.status_code, hook.status_code) == (200, 200)
    assert not any(
        'sk_test_from_secret' in json.dumps(line) or WEBHOOK_SECRET in json.dumps(line)
        for line in stdout.all()
    )
    assert 'sk_test' not in repr(get_settings())


def test_a_webhook_that_fails_midway_changes_nothing_and_its_redelivery_pays(
    client, stripe, localstripe, monkeypatch
):
    import peewee

    from chalicelib.orders import counts

    order = create_order(client)
    body = event_body(
        'payment_intent.succeeded',
        paid_intent(client, localstripe, order['order_id']),
        'evt_retried',
    )
    real = counts.record_change

    def broken(**kwargs):
        raise peewee.OperationalError(2013, 'Lost connection to MySQL server during query')

    monkeypatch.setattr(counts, 'record_change', broken)

    failed = deliver(client, body)

    assert failed.status_code == 503
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['status'] == 'pending'
    assert StripeEvent.select().count() == 0
    monkeypatch.setattr(counts, 'record_change', real)
    assert deliver(client, body).status_code == 200
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['status'] == 'paid'


def test_a_non_ascii_byte_in_the_signature_is_a_400(client, stripe, localstripe):
    order = create_order(client)
    body = event_body(
        'payment_intent.succeeded', paid_intent(client, localstripe, order['order_id'])
    )

    response = deliver(client, body, 't=1,v1=\xe9')

    error_of(response, 400, 'BadRequestError')
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['status'] == 'pending'


def _signed_event(event_type, data):
    return json.dumps(
        {'id': 'evt_odd', 'object': 'event', 'livemode': False, 'type': event_type, 'data': data}
    ).encode()


@pytest.mark.parametrize(
    'body',
    [
        b'{"id": "evt_odd", "type": "payment_intent.succeeded", "data": ',
        b'[' * 30_000 + b']' * 30_000,
        _signed_event('payment_intent.succeeded', []),
        _signed_event('payment_intent.succeeded', 'x'),
        _signed_event('payment_intent.succeeded', {'object': []}),
        _signed_event('payment_intent.succeeded', {'object': {'id': 'pi_1', 'metadata': []}}),
        _signed_event('charge.refunded', {'object': {'id': 'ch_1', 'refunds': 'x'}}),
        _signed_event('refund.updated', {'object': {'id': 're_1', 'metadata': ['refund_id']}}),
    ],
    ids=[
        'not JSON',
        'nested 30000 deep',
        'data a list',
        'data a string',
        'data.object a list',
        'metadata a list',
        'refunds a string',
        'refund metadata a list',
    ],
)
def test_a_signed_body_that_is_no_well_formed_event_is_a_400_and_changes_nothing(
    client, stripe, body
):
    error_of(deliver(client, body), 400, 'BadRequestError')

    assert StripeEvent.select().count() == 0


def test_a_signed_event_of_a_type_it_does_not_read_is_a_200_whatever_its_data(client, stripe):
    assert deliver(client, _signed_event('customer.created', [])).status_code == 200

    assert StripeEvent.select().count() == 0
