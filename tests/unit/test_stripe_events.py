"""A webhook body read into typed values (payments/events.py), and what binds
an event to this deployment's order or refund (payments/rules.foreign): no
database, no Stripe."""

import json

import pytest

from chalicelib.payments import events
from chalicelib.payments.events import MalformedEvent, Origin
from chalicelib.payments.rules import foreign, payment_key, refund_key

NAMESPACE = 'orders-prod'
OURS = Origin(livemode=False, account=None, deployment=NAMESPACE)


def intent(**changes):
    return {
        'id': 'pi_1',
        'object': 'payment_intent',
        'amount': 10997,
        'amount_received': 10997,
        'currency': 'usd',
        'metadata': {'order_id': '7', 'deployment': NAMESPACE},
        **changes,
    }


def refund(**changes):
    return {
        'id': 're_1',
        'object': 'refund',
        'amount': 400,
        'currency': 'usd',
        'status': 'succeeded',
        'payment_intent': 'pi_1',
        'metadata': {'refund_id': '3', 'deployment': NAMESPACE},
        **changes,
    }


def body(event_type='payment_intent.succeeded', data=None, **changes):
    event = {
        'id': 'evt_1',
        'object': 'event',
        'livemode': False,
        'type': event_type,
        'data': {'object': intent()} if data is None else data,
        **changes,
    }
    return json.dumps(event).encode()


def test_a_payment_event_is_read_into_its_intent():
    event = events.parse(body())

    assert event == events.Event(
        'evt_1',
        'payment_intent.succeeded',
        intent=events.Intent('pi_1', 10997, 'USD', 7, OURS),
    )


def test_a_charge_refunded_event_lists_its_refunds():
    charge = {'id': 'ch_1', 'refunds': {'object': 'list', 'data': [refund(), refund(id='re_2')]}}

    event = events.parse(body('charge.refunded', {'object': charge}, account='acct_1'))

    assert [r.refund_id for r in event.refunds] == ['re_1', 're_2']
    assert event.refunds[0] == events.StripeRefund(
        're_1', 'pi_1', 400, 'USD', 'succeeded', None, 3, Origin(False, 'acct_1', NAMESPACE)
    )


@pytest.mark.parametrize(
    'raw',
    [
        b'not json',
        b'[' * 30_000 + b']' * 30_000,
        b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": '
        + b'[' * 30_000
        + b']' * 30_000
        + b'}}',
        b'[]',
        b'"event"',
        body(id=5),
        body(type=['payment_intent.succeeded']),
        body(livemode='false'),
        body(account=1),
        body(data=[]),
        body(data='x'),
        body(data={'object': []}),
        body(data={'object': None}),
        body(data={'object': intent(metadata=[])}),
        body(data={'object': intent(metadata={'order_id': 7})}),
        body(data={'object': intent(amount='10997', amount_received=None)}),
        body(data={'object': intent(amount_received=True)}),
        body(data={'object': intent(amount_received=-1)}),
        body(data={'object': intent(currency=None)}),
        body(data={'object': intent(id={'id': 'pi_1'})}),
        body('charge.refunded', {'object': {'refunds': 'all of them'}}),
        body('charge.refunded', {'object': {'refunds': {'data': {}}}}),
        body('charge.refunded', {'object': {'refunds': {'data': ['re_1']}}}),
        body('refund.updated', {'object': refund(amount=4.0)}),
        body('refund.updated', {'object': refund(status=1)}),
        body('refund.updated', {'object': refund(payment_intent=['pi_1'])}),
        body('refund.updated', {'object': refund(metadata='refund 3')}),
    ],
    ids=lambda raw: raw[:60].decode(errors='replace'),
)
def test_any_other_shape_of_an_event_it_reads_is_malformed(raw):
    with pytest.raises(MalformedEvent):
        events.parse(raw)


def test_a_charge_refunded_event_without_its_refunds_lists_none():
    """Stripe's newer API versions leave them out: refund.* events carry each."""
    event = events.parse(body('charge.refunded', {'object': {'id': 'ch_1', 'refunded': True}}))

    assert event == events.Event('evt_1', 'charge.refunded')


def test_an_event_type_it_does_not_read_needs_only_its_id_and_type():
    assert events.parse(body('customer.created', data=[])) == events.Event(
        'evt_1', 'customer.created'
    )


def test_a_metadata_order_id_that_is_no_id_names_no_order():
    for value in ('0', '-1', '1e3', '٣', '1' * 19, ''):
        parsed = events.parse(body(data={'object': intent(metadata={'order_id': value})}))
        assert parsed.intent is not None and parsed.intent.order_id is None


# -- which events are this deployment's -------------------------------------------


def test_an_event_of_this_deployment_for_the_orders_own_intent_is_ours():
    assert foreign(OURS, NAMESPACE, False, 'pi_1', 'pi_1') is None


@pytest.mark.parametrize(
    ('origin', 'reference', 'stored', 'names'),
    [
        (Origin(False, None, 'orders-dev'), 'pi_1', 'pi_1', 'deployment'),
        (Origin(False, None, None), 'pi_1', 'pi_1', 'deployment'),
        (Origin(True, None, NAMESPACE), 'pi_1', 'pi_1', 'livemode'),
        (Origin(False, 'acct_1', NAMESPACE), 'pi_1', 'pi_1', 'connected account'),
        (OURS, 'pi_FOREIGN', 'pi_1', 'PaymentIntent'),
        (OURS, 'pi_1', None, 'PaymentIntent'),
        (OURS, None, None, 'PaymentIntent'),
    ],
)
def test_any_other_event_is_foreign(origin, reference, stored, names):
    assert names in foreign(origin, NAMESPACE, False, reference, stored)


def test_a_live_key_takes_only_live_events():
    live = Origin(True, None, NAMESPACE)

    assert foreign(live, NAMESPACE, True, 'pi_1', 'pi_1') is None
    assert 'livemode' in foreign(OURS, NAMESPACE, True, 'pi_1', 'pi_1')


@pytest.mark.parametrize('sent', [(401, 'USD'), (400, 'JPY'), (400, 'usd')])
def test_a_refund_of_another_amount_or_currency_is_foreign(sent):
    assert 'gives back' in foreign(OURS, NAMESPACE, False, 'pi_1', 'pi_1', sent, (400, 'USD'))
    assert foreign(OURS, NAMESPACE, False, 'pi_1', 'pi_1', (400, 'USD'), (400, 'USD')) is None


def test_idempotency_keys_carry_the_namespace():
    assert payment_key('orders-dev', 1) != payment_key('orders-prod', 1)
    assert (payment_key('orders-dev', 1), refund_key('orders-dev', 1)) == (
        'orders-dev-payment-1',
        'orders-dev-refund-1',
    )
