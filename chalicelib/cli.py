"""Operator commands, run on the configured database and AWS account:

    python -m chalicelib.cli migrate    create or upgrade the schema
    python -m chalicelib.cli relay      publish what the outbox still holds
    python -m chalicelib.cli redrive    move the notifier's dead letters back
    python -m chalicelib.cli recount    rebuild the order counts behind list totals

The Makefile's targets of the same names call these."""
import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib import runtime
from chalicelib.config import get_settings
from chalicelib.events.relay import relay
from chalicelib.orders import counts
from chalicelib.storage.migrations import migrate


def redrive(sqs: Any, dlq_url: str, queue_url: str, limit: int = 100000) -> int:
    """Receive, send, delete, in batches of 10: it works on every SQS (and on
    moto), and a message is deleted from the dead-letter queue only once it is
    safely back on the queue (at worst a crash leaves a copy in both: the
    notifier sends at most one email per event)."""
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
            MessageAttributeNames=['All']).get('Messages', [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message['Body'],
                             MessageAttributes=message.get('MessageAttributes', {}))
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message['ReceiptHandle'])
            moved += 1
    return moved


def _migrate() -> None:
    result = migrate(get_settings(), counts.recount)
    applied = ', '.join(map(str, result['applied'])) or 'none'
    print(f"schema at version {result['version']} (steps applied now: {applied})")


def _relay() -> None:
    runtime.database()
    # By hand there is no Lambda timeout to stay inside: until all is published.
    published = relay(runtime.publisher(), time_left=lambda: math.inf)
    print(f'published {published} events')


def _redrive() -> None:
    settings = get_settings()
    sqs = runtime.sqs()
    moved = redrive(sqs, sqs.get_queue_url(QueueName=settings.notify_dlq)['QueueUrl'],
                    sqs.get_queue_url(QueueName=settings.notify_queue)['QueueUrl'])
    print(f'moved {moved} messages from {settings.notify_dlq} back to {settings.notify_queue}')


def _recount() -> None:
    # After loading orders behind the service's back, while nothing else
    # writes orders.
    runtime.database()
    print(f'counts rebuilt: {counts.recount()}')


COMMANDS: dict[str, Callable[[], None]] = {
    'migrate': _migrate, 'relay': _relay, 'redrive': _redrive, 'recount': _recount}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m chalicelib.cli')
    parser.add_argument('command', choices=sorted(COMMANDS))
    COMMANDS[parser.parse_args(argv).command]()
    return 0


if __name__ == '__main__':
    sys.exit(main())
