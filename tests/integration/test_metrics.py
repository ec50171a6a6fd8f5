"""Each metric, read from stdout where it is emitted: a valid CloudWatch
Embedded Metric Format line, namespace OrdersService, dimension stage."""

from datetime import timedelta

from botocore.exceptions import ClientError

from chalicelib.events.breaker import Breaker
from chalicelib.events.relay import relay
from chalicelib.platform.config import get_settings
from chalicelib.wiring import runtime
from tests.support import Clock, create_order, order_body, send

IDEMPOTENT = {'Idempotency-Key': 'metrics-1'}


def assert_valid_emf(line):
    """What CloudWatch needs to turn a log line into metrics: `_aws` with a
    millisecond Timestamp and one directive, whose dimensions and metrics
    are members of the line with values of their kind."""
    meta = line['_aws']
    assert isinstance(meta['Timestamp'], int) and meta['Timestamp'] > 1_600_000_000_000
    [directive] = meta['CloudWatchMetrics']
    assert directive['Namespace'] == 'OrdersService'
    assert directive['Dimensions'] == [['stage']]
    assert line['stage'] == get_settings().metrics_stage
    for metric in directive['Metrics']:
        values = line[metric['Name']]
        values = values if isinstance(values, list) else [values]
        assert values and all(isinstance(value, (int, float)) for value in values)
    return directive['Metrics']


def emitted(stdout, name):
    """[(unit, value)] of every line that reports `name`."""
    found = []
    for line in stdout.metrics(name):
        for metric in assert_valid_emf(line):
            if metric['Name'] == name:
                [value] = line[name]
                found.append((metric['Unit'], value))
    return found


def test_a_created_order_counts_once_and_its_replay_not_at_all(client, stdout):
    create_order(client, headers=IDEMPOTENT)
    replay = send(client, 'POST', '/orders', order_body(), IDEMPOTENT)

    assert replay.headers.get('Idempotent-Replayed') == 'true'
    assert emitted(stdout, 'OrdersCreated') == [('Count', 1)]


def test_a_status_change_counts_and_the_same_status_again_does_not(client, stdout):
    order = create_order(client)

    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'paid'})
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'paid'})

    assert emitted(stdout, 'OrderStatusChanges') == [('Count', 1)]


def test_an_event_published_by_its_request_counts(aws_world, client, stdout):
    create_order(client)

    assert emitted(stdout, 'EventsPublished') == [('Count', 1)]
    assert emitted(stdout, 'EventPublishFailures') == []


class DownSns:
    def publish(self, **kwargs):
        raise ConnectionError('SNS is unreachable')

    publish_batch = publish


def test_a_failed_publish_counts_and_the_relay_counts_what_it_publishes_later(
    aws_world, client, stdout, monkeypatch
):
    publisher = runtime.publisher()
    monkeypatch.setattr(publisher, '_request_client', lambda: DownSns())
    # A breaker that opens at the first failure and lets no probe through.
    monkeypatch.setattr(publisher, 'breaker', Breaker(failures=1, monotonic=lambda: 0.0))
    create_order(client)
    create_order(client)  # the breaker is open: left to the relay, not a failure

    assert emitted(stdout, 'EventPublishFailures') == [('Count', 1)]
    runtime.reset()  # SNS is back; the relay of another container runs
    stdout.clear()

    assert relay(runtime.publisher(), time_left=lambda: 1.0) == 2
    assert emitted(stdout, 'EventsPublished') == [('Count', 2)]


def test_the_relay_reports_the_age_of_the_oldest_pending_event(
    aws_world, client, stdout, monkeypatch, service_clock
):
    publisher = runtime.publisher()
    monkeypatch.setattr(publisher, 'breaker', Breaker(failures=0, monotonic=lambda: 0.0))
    publisher.breaker.failed()  # open, no probe: the request leaves its event pending
    create_order(client)  # pending, written at service_clock.now
    relay_clock = Clock(service_clock.now + timedelta(seconds=90))

    relay(publisher, time_left=lambda: 1.0, clock=relay_clock)
    relay(publisher, time_left=lambda: 1.0, clock=relay_clock)

    assert emitted(stdout, 'OutboxPendingAgeSeconds') == [('Seconds', 90.0), ('Seconds', 0.0)]


def test_a_sent_email_counts(aws_world, client, stdout):
    create_order(client, user_email='ada@example.com')

    client.lambda_.invoke('email_notifier', aws_world.sqs_event(aws_world.receive()))

    assert emitted(stdout, 'EmailsSent') == [('Count', 1)]
    assert emitted(stdout, 'EmailSendFailures') == []


class ThrottledSes:
    def send_raw_email(self, **kwargs):
        raise ClientError({'Error': {'Code': 'Throttling', 'Message': 'slow down'}}, 'SendRawEmail')


def test_a_failed_email_counts(aws_world, client, stdout, monkeypatch):
    create_order(client, user_email='ada@example.com')
    monkeypatch.setattr(runtime.notifier().sender, '_client', lambda: ThrottledSes())

    result = client.lambda_.invoke('email_notifier', aws_world.sqs_event(aws_world.receive()))

    assert len(result.payload['batchItemFailures']) == 1
    assert emitted(stdout, 'EmailSendFailures') == [('Count', 1)]
    assert emitted(stdout, 'EmailsSent') == []
