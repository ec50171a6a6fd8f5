"""The contract's Events: one event per change, in the change's transaction,
published to SNS after the commit, and by the relay whatever is left."""

import json
from datetime import timedelta

import pytest

from chalicelib.core.clock import utcnow
from chalicelib.events.breaker import FAILURES, PROBE_SECONDS, Breaker
from chalicelib.events.outbox import PUBLISH_LEASE
from chalicelib.events.publishers import SnsPublisher
from chalicelib.events.relay import relay
from chalicelib.storage import connection
from chalicelib.storage.models import Outbox
from chalicelib.wiring import runtime
from tests.support import (
    BREAKDOWN,
    EVENT_KEYS,
    FROZEN_AT,
    Clock,
    create_order,
    iso,
    scheduled_event,
    send,
)


def put_status(client, order_id, status):
    response = send(client, 'PUT', f'/orders/{order_id}', {'status': status})
    assert response.status_code == 200, response.body
    return response


def relay_now(clock=utcnow):
    return relay(runtime.publisher(), time_left=lambda: 1.0, clock=clock)


def pending():
    return list(Outbox.select().where(Outbox.published_at.is_null()).order_by(Outbox.id))


class Open:
    """A breaker that never lets a request call SNS."""

    def allows(self):
        return False


def test_each_change_publishes_exactly_one_event_with_the_contract_body(
    aws_world, client, service_clock
):
    service_clock.step = timedelta(seconds=1)  # each change a second after the last
    order = create_order(client, user_email='ada@example.com')
    put_status(client, order['order_id'], 'paid')
    put_status(client, order['order_id'], 'shipped')
    put_status(client, order['order_id'], 'delivered')
    assert send(client, 'DELETE', f'/orders/{order["order_id"]}').status_code == 204

    messages = aws_world.receive()

    envelopes = [json.loads(m['Body']) for m in messages]
    # The queue keeps no order; the timestamps do (the clock moved at each change).
    events = sorted((json.loads(e['Message']) for e in envelopes), key=lambda e: e['timestamp'])
    assert len({e['timestamp'] for e in events}) == 5 and events[0]['timestamp'] == iso(FROZEN_AT)
    assert [e['event_type'] for e in events] == [
        'order_created',
        'order_updated',
        'order_shipped',
        'order_updated',
        'order_deleted',
    ]
    assert [e['status'] for e in events] == ['pending', 'paid', 'shipped', 'delivered', 'delivered']
    assert set(events[0]) == EVENT_KEYS | BREAKDOWN
    assert all(set(e) == EVENT_KEYS for e in events[1:] if e['event_type'] != 'order_shipped')
    assert set(events[2]) == EVENT_KEYS | {'shipment'}
    assert len({e['event_id'] for e in events}) == 5
    assert events[0]['order_total'] == 109.97
    assert events[0]['user_email'] == 'ada@example.com'
    assert all(e['timestamp'].endswith('Z') for e in events)
    subjects = {json.loads(env['Message'])['event_type']: env['Subject'] for env in envelopes}
    assert subjects == {
        'order_created': 'Order Created',
        'order_updated': 'Order Updated',
        'order_shipped': 'Order Shipped',
        'order_deleted': 'Order Deleted',
    }
    for envelope in envelopes:
        assert envelope['MessageAttributes']['event_type'] == {
            'Type': 'String',
            'Value': json.loads(envelope['Message'])['event_type'],
        }


def test_published_rows_are_marked_with_the_sns_message_id(aws_world, client):
    create_order(client)

    rows = list(Outbox.select())

    assert len(rows) == 1
    assert rows[0].published_at is not None and rows[0].sns_message_id


ON_MARIADB = pytest.mark.parametrize(
    'database_url', [pytest.param('mariadb', marks=pytest.mark.mariadb)], indirect=True
)


@ON_MARIADB
def test_a_write_waits_for_one_commit_the_mark_is_sent_and_read_by_the_next_statement(
    aws_world, client
):
    create_order(client)

    # The request answered with the mark's answer unread: it waited for its
    # change's commit only.
    assert connection.has_unread_answer()
    rows = list(Outbox.select())  # reads that answer first
    assert not connection.has_unread_answer()
    assert rows[0].published_at is not None and rows[0].sns_message_id


@ON_MARIADB
def test_a_sent_statement_that_failed_is_logged_by_the_next_request_which_is_served(
    aws_world, client, logged
):
    order = create_order(client)
    runtime.database().send_sql('UPDATE no_such_table SET x = %(x)s', {'x': 1})

    response = send(client, 'GET', f'/orders/{order["order_id"]}')

    assert response.status_code == 200
    assert any('sent without waiting failed' in m for m in logged.messages('WARNING'))
    assert not connection.has_unread_answer()


def test_same_status_put_publishes_nothing(aws_world, client):
    order = create_order(client)
    aws_world.receive()

    response = put_status(client, order['order_id'], 'pending')

    assert json.loads(response.body)['version'] == 1
    assert aws_world.receive() == []
    assert Outbox.select().count() == 1


def test_subscription_filter_on_event_type_sees_only_its_types(aws_world, client):
    shipped_url, _ = aws_world.subscribe_queue('shipping-only', {'event_type': ['order_shipped']})
    order = create_order(client)
    put_status(client, order['order_id'], 'shipped')
    send(client, 'DELETE', f'/orders/{order["order_id"]}')

    events = aws_world.events(shipped_url)

    assert [e['event_type'] for e in events] == ['order_shipped']


def test_a_cancellation_is_published_as_order_cancelled_with_its_subject(aws_world, client):
    order = create_order(client)
    put_status(client, order['order_id'], 'paid')
    aws_world.receive()

    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'cancelled', 'reason': 'Late'})

    # Then the refund of the payment taken outside, done at once (order_refunded).
    message, _ = aws_world.receive()
    envelope = json.loads(message['Body'])
    event = json.loads(envelope['Message'])
    assert envelope['Subject'] == 'Order Cancelled'
    assert envelope['MessageAttributes']['event_type']['Value'] == 'order_cancelled'
    assert set(event) == EVENT_KEYS | {'refund_due', 'reason'}
    assert (event['refund_due'], event['reason']) == (109.97, 'Late')


def test_a_consumer_subscribed_to_the_earlier_types_gets_them_and_nothing_new(aws_world, client):
    earlier_url, _ = aws_world.subscribe_queue(
        'earlier-types', {'event_type': ['order_created', 'order_updated', 'order_shipped']}
    )
    cancelled = create_order(client)
    shipped = create_order(client)
    send(client, 'PUT', f'/orders/{cancelled["order_id"]}', {'status': 'cancelled'})
    put_status(client, shipped['order_id'], 'paid')
    send(
        client,
        'PUT',
        f'/orders/{shipped["order_id"]}',
        {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'JD-1'},
    )

    events = aws_world.events(earlier_url)

    assert sorted((e['order_id'], e['event_type']) for e in events) == sorted(
        [
            (cancelled['order_id'], 'order_created'),
            (shipped['order_id'], 'order_created'),
            (shipped['order_id'], 'order_updated'),
            (shipped['order_id'], 'order_shipped'),
        ]
    )
    assert all(
        e['event_type'] in {'order_created', 'order_updated', 'order_shipped'} for e in events
    )


class FailingSns:
    """An SNS client that is down: every call raises, each call recorded."""

    def __init__(self):
        self.calls = 0

    def publish(self, **kwargs):
        self.calls += 1
        raise ConnectionError('SNS is unreachable')

    publish_batch = publish


def test_sns_outage_still_answers_201_and_relay_publishes_once(aws_world, client, monkeypatch):
    failing = FailingSns()
    monkeypatch.setattr(runtime.publisher(), '_request_client', lambda: failing)
    monkeypatch.setattr(runtime.publisher(), '_relay_client', lambda: failing)

    response = send(
        client,
        'POST',
        '/orders',
        {'user_id': 1, 'items': [{'product_id': 1, 'quantity': 1, 'price_at_order': 5}]},
    )

    assert response.status_code == 201
    assert failing.calls == 1
    assert len(pending()) == 1
    assert relay_now() == 0  # SNS still down: nothing published, nothing lost
    runtime.reset()  # SNS is back; the relay of another container runs
    assert relay_now() == 1
    assert relay_now() == 0
    events = aws_world.events()
    assert [e['order_id'] for e in events] == [json.loads(response.body)['order_id']]


def test_after_several_failures_in_a_row_requests_stop_calling_sns_but_probe(
    aws_world, client, monkeypatch
):
    failing = FailingSns()
    monotonic = Clock(0.0, step=0.0)
    publisher = runtime.publisher()
    monkeypatch.setattr(publisher, '_request_client', lambda: failing)
    monkeypatch.setattr(publisher, 'breaker', Breaker(monotonic=monotonic))

    for _ in range(FAILURES + 2):
        create_order(client)
    calls_while_open = failing.calls
    monotonic.advance(PROBE_SECONDS)
    create_order(client)

    assert calls_while_open == FAILURES
    assert failing.calls == FAILURES + 1  # the probe
    assert len(pending()) == FAILURES + 3
    assert all(row.relay_after is None for row in pending())  # all handed to the relay


@pytest.mark.parametrize('why', ['sns failed', 'breaker open'])
def test_an_event_its_request_did_not_publish_goes_with_the_very_next_relay_run(
    aws_world, client, monkeypatch, service_clock, why
):
    publisher = runtime.publisher()
    if why == 'sns failed':
        monkeypatch.setattr(publisher, '_request_client', lambda: FailingSns())
    else:
        monkeypatch.setattr(publisher, 'breaker', Open())
    order = create_order(client)

    # At the very moment of the change: no age to wait for.
    published = relay_now(clock=Clock(service_clock.now))

    assert published == 1
    assert pending() == []
    assert [e['order_id'] for e in aws_world.events()] == [order['order_id']]


def test_the_relay_run_through_the_chalice_test_client_publishes_what_is_pending(
    aws_world, client, monkeypatch
):
    monkeypatch.setattr(runtime.publisher(), 'breaker', Open())  # leave it to the relay
    order = create_order(client)

    # The test client's Lambda context reports 3 s left, as chalice local's does.
    answer = client.lambda_.invoke('outbox_relay', scheduled_event()).payload

    assert answer == {'published': 1}
    assert pending() == []
    assert [e['order_id'] for e in aws_world.events()] == [order['order_id']]


def test_a_relay_with_no_time_left_still_publishes_its_first_batch(aws_world, client, monkeypatch):
    monkeypatch.setattr(runtime.publisher(), 'breaker', Open())
    for user_id in range(1, 4):
        create_order(client, user_id=user_id)

    assert relay(runtime.publisher(), time_left=lambda: -1.0) == 3


def test_crash_between_commit_and_publish_is_healed_by_the_relay(
    aws_world, client, monkeypatch, service_clock
):
    def crash(self, rows):
        raise SystemExit('the Lambda was stopped right after the commit')

    monkeypatch.setattr(SnsPublisher, 'publish_committed', crash)

    with pytest.raises(SystemExit):
        send(
            client,
            'POST',
            '/orders',
            {'user_id': 7, 'items': [{'product_id': 1, 'quantity': 1, 'price_at_order': 5}]},
        )
    monkeypatch.undo()

    assert aws_world.receive() == []
    # Nothing handed it over: the relay takes it once its request's lease is over.
    assert relay_now(clock=Clock(service_clock.now + PUBLISH_LEASE)) == 1
    events = aws_world.events()
    assert [(e['event_type'], e['user_id']) for e in events] == [('order_created', 7)]


class OneEntryFails:
    """Real SNS, except that PublishBatch reports the first entry failed."""

    def __init__(self, real):
        self.real = real

    def publish_batch(self, TopicArn, PublishBatchRequestEntries):
        failed, *rest = PublishBatchRequestEntries
        response = self.real.publish_batch(TopicArn=TopicArn, PublishBatchRequestEntries=rest)
        response['Failed'] = [
            {
                'Id': failed['Id'],
                'Code': 'InternalError',
                'Message': 'try again',
                'SenderFault': False,
            }
        ]
        return response


def test_publish_batch_with_one_failed_entry_leaves_only_that_one_pending(
    aws_world, client, monkeypatch
):
    publisher = runtime.publisher()
    monkeypatch.setattr(publisher, 'breaker', Open())  # leave all to the relay
    for user_id in range(1, 6):
        create_order(client, user_id=user_id)
    first = Outbox.select().order_by(Outbox.id).first()
    monkeypatch.setattr(publisher, '_relay_client', lambda: OneEntryFails(aws_world.sns))

    assert relay_now() == 4

    assert [row.event_id for row in pending()] == [first.event_id]
    assert len(aws_world.receive()) == 4


def test_relay_leaves_alone_an_event_its_request_may_still_be_publishing(
    aws_world, client, monkeypatch, service_clock
):
    # A request that committed and has neither published nor given up yet.
    monkeypatch.setattr(SnsPublisher, 'publish_committed', lambda self, rows: None)
    create_order(client)
    written = service_clock.now  # the event's created_at

    # Within its request's lease: left alone; after it: the relay's.
    assert relay_now(clock=Clock(written + PUBLISH_LEASE / 2)) == 0
    assert relay_now(clock=Clock(written + PUBLISH_LEASE)) == 1
    assert relay_now(clock=Clock(written + PUBLISH_LEASE)) == 0
    assert len(aws_world.receive()) == 1
