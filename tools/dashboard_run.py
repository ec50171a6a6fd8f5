"""A short local run whose metrics feed the dashboard's picture
(`make dashboard-picture`; tools/dashboard_picture.py draws it).

The app runs in process, as Lambda calls it (chalice.test.Client), on a
temporary SQLite database, with SNS and SQS played by moto (the topic, the
notification queue and its raw subscription, as the stack wires them) and
emails written to files. Staff place, read, list and change orders; a few
requests are refused (400, 404). Every RELAY_EVERY seconds, as its schedule
would, the relay runs (the same relay() the function calls); after every
step the notifier takes a batch from the queue, as Lambda's poller would.
For a while SNS refuses (publishes fail, events wait, the relay catches up),
later the mail sender does (emails fail and are retried).

Written to the output file, one JSON object a line:
  {"start": {epoch_ms}}              when the run started (the first line)
  {"emf": {...}}                     each metric line the service printed (EMF)
  {"request": {t, status, ms}}       each request: what API Gateway would count
  {"invocation": {t, function}}      each run of a scheduled or queue function
Nothing here touches AWS, a network or the repository's .data."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SECONDS = 90.0
SNS_OUTAGE = (25.0, 35.0)  # seconds into the run
MAIL_OUTAGE = (55.0, 68.0)
RELAY_EVERY = 5.0
USERS = 20
REGION = 'us-east-1'
TOPIC = 'orders-prod-events'
QUEUE = 'orders-prod-notifications'


def _environment(directory: Path) -> dict[str, str]:
    from chalicelib.identity.dev_issuer import DevIssuer

    issuer = DevIssuer(directory / 'issuer')
    issuer.ensure_keys()
    auth = issuer.auth_settings()
    for name in ('SES_SENDER_EMAIL', 'DB_HOST', 'DB_SECRET_ARN', 'AWS_PROFILE'):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID='testing',
        AWS_SECRET_ACCESS_KEY='testing',
        NOTIFY_QUEUE_NAME=QUEUE,
        DATABASE_URL=f'sqlite:///{directory}/orders.sqlite3',
        AUTO_MIGRATE='true',
        MAIL_DIR=str(directory / 'mail'),
        LOG_LEVEL='CRITICAL',
        ENVIRONMENT='prod',
        POWERTOOLS_TRACE_DISABLED='true',
        AUTH_ISSUER=auth.issuer,
        AUTH_AUDIENCE=','.join(auth.audiences),
        AUTH_JWKS_URL=auth.jwks_url,
    )
    return {'staff': issuer.mint(role='staff')}


class Run:
    def __init__(self, out: io.TextIOBase) -> None:
        self.out = out
        self.start = time.monotonic()
        self.captured = io.StringIO()
        # EMF lines carry wall-clock milliseconds; the rest counts from here.
        self.write('start', {'epoch_ms': time.time() * 1000})

    def now(self) -> float:
        return time.monotonic() - self.start

    def write(self, kind: str, record: dict[str, Any]) -> None:
        self.out.write(json.dumps({kind: record}) + '\n')

    def flush_metrics(self) -> None:
        for line in self.captured.getvalue().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and '_aws' in record:
                self.write('emf', record)
        self.captured.seek(0)
        self.captured.truncate()

    def timed(self, call: Callable[[], Any]) -> Any:
        started = time.monotonic()
        with contextlib.redirect_stdout(self.captured):
            answer = call()
        elapsed = (time.monotonic() - started) * 1000
        self.write('request', {'t': self.now(), 'status': answer.status_code, 'ms': elapsed})
        self.flush_metrics()
        return answer

    def scheduled(self, function: str, call: Callable[[], Any]) -> None:
        with contextlib.redirect_stdout(self.captured):
            call()
        self.write('invocation', {'t': self.now(), 'function': function})
        self.flush_metrics()

    def polled(self, function: str, call: Callable[[], bool]) -> bool:
        """A queue function: an invocation only when there was a batch."""
        with contextlib.redirect_stdout(self.captured):
            invoked = call()
        if invoked:
            self.write('invocation', {'t': self.now(), 'function': function})
        self.flush_metrics()
        return invoked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='the JSON lines file to write')
    parser.add_argument('--seconds', type=float, default=SECONDS)
    args = parser.parse_args(argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    from moto import mock_aws

    with tempfile.TemporaryDirectory() as directory, open(args.out, 'w') as out, mock_aws():
        tokens = _environment(Path(directory))
        queue_url = _messaging()
        load(Run(out), tokens['staff'], args.seconds, queue_url)
    print(f'wrote {args.out}', file=sys.stderr)
    return 0


def _messaging() -> str:
    """The topic, the queue and the raw subscription; the queue's URL."""
    import boto3

    sns, sqs = boto3.client('sns', REGION), boto3.client('sqs', REGION)
    topic_arn = sns.create_topic(Name=TOPIC)['TopicArn']
    # A message a failed send leaves is back for the next pass, as after
    # the real queue's visibility timeout.
    queue_url = sqs.create_queue(
        QueueName=QUEUE, Attributes={'VisibilityTimeout': str(int(RELAY_EVERY) - 1)}
    )['QueueUrl']
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=['QueueArn'])[
        'Attributes'
    ]['QueueArn']
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol='sqs',
        Endpoint=queue_arn,
        Attributes={'RawMessageDelivery': 'true'},
    )
    os.environ['SNS_TOPIC_ARN'] = topic_arn
    return queue_url


def _refusing(*args: Any, **kwargs: Any) -> Any:
    raise OSError('simulated outage')


def load(run: Run, staff: str, seconds: float, queue_url: str) -> None:
    from chalice.test import Client

    import app as app_module
    from chalicelib.events.relay import relay
    from chalicelib.wiring import runtime

    headers = {'Authorization': f'Bearer {staff}', 'Content-Type': 'application/json'}
    sender = runtime.notifier().sender
    publisher = runtime.publisher()
    sns_clients = [publisher._request_client(), publisher._relay_client()]
    sqs = runtime.sqs()

    def relay_run() -> None:
        runtime.database()
        relay(publisher, time_left=lambda: math.inf)

    def notifier_run() -> bool:
        """What Lambda's poller and email_notifier do with one batch: each
        message handled, deleted when done, left for another receive when not.
        Whether there was a batch."""
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get('Messages', [])
        if not messages:
            return False
        runtime.database()
        for message in messages:
            if runtime.notifier().handle(message['Body']):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message['ReceiptHandle'])
        return True

    def outages() -> None:
        for client in sns_clients:
            if SNS_OUTAGE[0] <= run.now() < SNS_OUTAGE[1]:
                client.publish = client.publish_batch = _refusing
            else:
                vars(client).pop('publish', None)
                vars(client).pop('publish_batch', None)
        if MAIL_OUTAGE[0] <= run.now() < MAIL_OUTAGE[1]:
            sender.send = _refusing
        else:
            vars(sender).pop('send', None)

    with Client(app_module.app) as client:
        tick = client.events.generate_cw_event(
            source='aws.events', detail_type='Scheduled Event', detail={}, resources=[]
        )
        run.scheduled('housekeeping', lambda: client.lambda_.invoke('housekeeping', tick))
        created: list[int] = []
        next_relay = 0.0
        step = 0
        while run.now() < seconds:
            step += 1
            outages()
            if run.now() >= next_relay:
                run.scheduled('outbox_relay', relay_run)
                next_relay += RELAY_EVERY
            # Lambda polls the queue all the time: a batch after each step.
            run.polled('email_notifier', notifier_run)
            user = step % USERS + 1
            body = {
                'user_id': user,
                'user_email': f'user{user}@example.com',
                'items': [
                    {
                        'product_id': 101 + step % 3,
                        'quantity': 1 + step % 2,
                        'price_at_order': 29.99,
                    }
                ],
            }
            answer = run.timed(
                lambda body=body: client.http.post(
                    '/orders', headers=headers, body=json.dumps(body)
                )
            )
            if answer.status_code == 201:
                created.append(answer.json_body['order_id'])
            order_id = created[-1] if created else 1
            run.timed(
                lambda order_id=order_id: client.http.get(f'/orders/{order_id}', headers=headers)
            )
            run.timed(
                lambda user=user: client.http.get(
                    f'/orders?page_size=20&user_id={user}', headers=headers
                )
            )
            if step % 3 == 0 and created:
                target = created.pop(0)
                status = 'cancelled' if step % 2 else 'shipped'
                run.timed(
                    lambda target=target, status=status: client.http.put(
                        f'/orders/{target}', headers=headers, body=json.dumps({'status': status})
                    )
                )
            if step % 10 == 0:
                run.timed(
                    lambda user=user: client.http.post(
                        '/orders',
                        headers=headers,
                        body=json.dumps(
                            {'user_id': user, 'items': [{'product_id': 1, 'quantity': 0}]}
                        ),
                    )
                )
            if step % 15 == 0:
                run.timed(lambda: client.http.get('/orders/999999999', headers=headers))
            # A shop's pace, not a benchmark's: a few requests a second.
            time.sleep(0.05)
        run.scheduled('outbox_relay', relay_run)
        while run.polled('email_notifier', notifier_run):
            pass


if __name__ == '__main__':
    sys.exit(main())
