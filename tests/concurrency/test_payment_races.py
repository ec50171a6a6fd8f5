"""Concurrency of the money paths, with several Lambda copies (processes) on
MariaDB and the real stripe library against localstripe: one Stripe event
delivered several times at once pays the order once; one refund asked for
several times at once with one Idempotency-Key refunds once; and the refund
relay never sends a refund a request is sending, nor two relays one refund."""

import collections
import time

import pytest

from tests.concurrency.harness import (
    CONTEXT,
    Workers,
    at_once,
    one_worker,
    query,
    run_workers,
    summarize,
    worker_env,
)
from tests.concurrency.workers import order_body
from tests.stripe_support import (
    API_KEY,
    NAMESPACE,
    WEBHOOK_SECRET,
    FaultyStripe,
    event_body,
    pay_with_card,
    signature,
)

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 4


@pytest.fixture
def stripe(localstripe):
    proxy = FaultyStripe(localstripe)
    yield proxy
    proxy.stop()


def stripe_env(database, tmp_path, proxy):
    return worker_env(
        database,
        tmp_path,
        STRIPE_API_KEY=API_KEY,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=proxy.url,
        STRIPE_NAMESPACE=NAMESPACE,
    )


def paid_orders(env, localstripe, count, tmp_path):
    """`count` orders whose PaymentIntents are paid at Stripe (no webhook yet):
    [(order_id, PaymentIntent)]."""
    created = one_worker(
        env, [('POST', '/orders', order_body(9000 + n), None) for n in range(count)], tmp_path
    )
    order_ids = [answer['order_id'] for answer in created]
    intents = one_worker(
        env,
        [('POST', f'/orders/{order_id}/payment', None, None) for order_id in order_ids],
        tmp_path,
    )
    return [
        (order_id, pay_with_card(localstripe.client(), intent['full']['payment_intent_id']))
        for order_id, intent in zip(order_ids, intents, strict=True)
    ]


def webhook(intent, event_id):
    body = event_body('payment_intent.succeeded', intent, event_id).decode()
    return ('POST', '/webhooks/stripe', body, {'Stripe-Signature': signature(body.encode())})


def test_one_stripe_event_delivered_at_once_by_several_copies_pays_once(
    fresh_database, localstripe, stripe, tmp_path
):
    env = stripe_env(fresh_database, tmp_path, stripe)
    orders = paid_orders(env, localstripe, 3, tmp_path)
    requests = [webhook(intent, f'evt_race_{order_id}') for order_id, intent in orders]

    answers = at_once(env, requests, PROCESSES, tmp_path)

    assert {answer['status'] for answer in answers} == {200}
    for order_id, intent in orders:
        assert query(
            fresh_database,
            'SELECT status, version, amount_paid = order_total, '
            'payment_reference FROM orders WHERE order_id = %s',
            (order_id,),
        ) == (('paid', 2, 1, intent['id']),)
        assert query(
            fresh_database,
            "SELECT COUNT(*) FROM outbox WHERE order_id = %s AND event_type = 'order_updated'",
            (order_id,),
        ) == ((1,),)
        assert query(
            fresh_database,
            "SELECT COUNT(*) FROM order_history WHERE order_id = %s AND actor_role = 'payment'",
            (order_id,),
        ) == ((1,),)
    assert query(fresh_database, 'SELECT COUNT(*) FROM stripe_events') == ((len(orders),),)
    summarize(
        'one Stripe event, several deliveries at once',
        answers,
        processes=PROCESSES,
        events=len(orders),
    )


def test_one_refund_asked_at_once_with_one_key_refunds_once(
    fresh_database, localstripe, stripe, tmp_path
):
    env = stripe_env(fresh_database, tmp_path, stripe)
    orders = paid_orders(env, localstripe, 3, tmp_path)
    one_worker(
        env, [webhook(intent, f'evt_pay_{order_id}') for order_id, intent in orders], tmp_path
    )
    requests = [
        (
            'POST',
            f'/orders/{order_id}/refunds',
            {'amount': 5},
            {'Idempotency-Key': f'refund-race-{order_id}'},
        )
        for order_id, _ in orders
    ]

    answers = at_once(env, requests, PROCESSES, tmp_path)

    statuses = collections.Counter(answer['status'] for answer in answers)
    assert set(statuses) <= {201, 409}, statuses
    for order_id, intent in orders:
        mine = [answer for answer in answers if answer['path'] == f'/orders/{order_id}/refunds']
        created = [answer['full'] for answer in mine if answer['status'] == 201]
        assert created and all(body == created[0] for body in created), mine
        assert query(
            fresh_database, 'SELECT COUNT(*) FROM refunds WHERE order_id = %s', (order_id,)
        ) == ((1,),)
        stripe_refunds = (
            localstripe.client().v1.refunds.list(params={'payment_intent': intent['id']}).data
        )
        assert [r.amount for r in stripe_refunds] == [500]
    summarize(
        'one refund, one key, asked at once', answers, processes=PROCESSES, by_status=dict(statuses)
    )


def test_the_relay_never_sends_a_refund_a_request_or_another_relay_sends(
    fresh_database, localstripe, stripe, tmp_path
):
    env = stripe_env(fresh_database, tmp_path, stripe)
    orders = paid_orders(env, localstripe, 8, tmp_path)
    one_worker(
        env, [webhook(intent, f'evt_paid_{order_id}') for order_id, intent in orders], tmp_path
    )
    left_to_relays, sent_by_requests = orders[:4], orders[4:]
    # Stripe down: these requests hand their refunds to the relay.
    stripe.mode = 'down'
    one_worker(
        env,
        [
            ('POST', f'/orders/{order_id}/refunds', {'amount': 3}, None)
            for order_id, _ in left_to_relays
        ],
        tmp_path,
    )
    stripe.mode = 'ok'
    refused = len(stripe.refund_creates())

    # Three relays take the handed-over refunds while four copies ask for
    # new ones (and send them) at the same moment.
    stop = CONTEXT.Event()
    barrier = CONTEXT.Barrier(3 + 4)
    requests = [
        ('POST', f'/orders/{order_id}/refunds', {'amount': 2}, None)
        for order_id, _ in sent_by_requests
    ]
    params = [dict(task='refund_relay_until', stop=stop, barrier=barrier) for _ in range(3)]
    # Workers 3..6 send one request each, all at once.
    params += [
        dict(requests=[{3 + n: request for n, request in enumerate(requests)}], barrier=barrier)
        for _ in requests
    ]
    workers = Workers('requests_at_once', env, params, tmp_path)
    try:
        # The requests record their refunds; then the relays may stop once idle.
        deadline = time.monotonic() + 60
        while query(fresh_database, 'SELECT COUNT(*) FROM refunds')[0][0] < 8:
            assert time.monotonic() < deadline, 'the requests did not record their refunds'
            time.sleep(0.05)
        stop.set()
        outcomes = workers.results(120)
    finally:
        workers.kill()

    creates = collections.Counter(stripe.refund_creates()[refused:])
    refund_ids = [row[0] for row in query(fresh_database, 'SELECT refund_id FROM refunds')]
    assert sorted(creates) == sorted(f'{NAMESPACE}-refund-{refund_id}' for refund_id in refund_ids)
    assert set(creates.values()) == {1}, creates
    assert query(fresh_database, "SELECT COUNT(*) FROM refunds WHERE status = 'succeeded'") == (
        (8,),
    )
    for _, intent in orders:
        assert (
            len(localstripe.client().v1.refunds.list(params={'payment_intent': intent['id']}).data)
            == 1
        )
    relayed = sum(sum(runs) for runs in outcomes[:3])
    assert relayed == len(left_to_relays)
    summarize(
        'refund relays beside requests',
        [answer for outcome in outcomes[3:] for answer in outcome],
        relays=3,
        requests=4,
        relayed=relayed,
        stripe_creates=dict(creates),
    )


def test_relays_at_once_cancel_each_intent_a_gone_order_left_exactly_once(
    fresh_database, localstripe, stripe, tmp_path
):
    env = stripe_env(fresh_database, tmp_path, stripe)
    created = one_worker(
        env, [('POST', '/orders', order_body(9100 + n), None) for n in range(12)], tmp_path
    )
    order_ids = [answer['order_id'] for answer in created]
    intents = [
        answer['full']['payment_intent_id']
        for answer in one_worker(
            env,
            [('POST', f'/orders/{order_id}/payment', None, None) for order_id in order_ids],
            tmp_path,
        )
    ]
    # Stripe down: the requests leave every intent to the relays.
    stripe.mode = 'down'
    one_worker(
        env, [('DELETE', f'/orders/{order_id}', None, None) for order_id in order_ids], tmp_path
    )
    stripe.mode = 'ok'
    tried = len(stripe.calls)
    assert query(fresh_database, 'SELECT COUNT(*) FROM intent_cancellations') == ((12,),)

    # Three relays at once, each until a run of its own finds nothing.
    stop = CONTEXT.Event()
    stop.set()
    barrier = CONTEXT.Barrier(3)
    run_workers(
        'requests_at_once',
        env,
        [dict(task='refund_relay_until', stop=stop, barrier=barrier) for _ in range(3)],
        tmp_path,
    )

    cancels = collections.Counter(
        path for method, path, _ in stripe.calls[tried:] if path.endswith('/cancel')
    )
    assert sorted(cancels) == sorted(f'/v1/payment_intents/{intent}/cancel' for intent in intents)
    assert set(cancels.values()) == {1}, cancels
    assert query(fresh_database, 'SELECT COUNT(*) FROM intent_cancellations') == ((0,),)
    for intent in intents:
        assert localstripe.client().v1.payment_intents.retrieve(intent).status == 'canceled'
