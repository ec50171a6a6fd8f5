"""`make redrive`: move the notifier's dead letters back to its queue.

Receive, send, delete, in batches of 10: it works on every SQS (and on moto),
and a message is deleted from the dead-letter queue only once it is safely
back on the queue (at worst a crash leaves a copy in both: the notifier sends
at most one email per event)."""
import os
import sys

from chalicelib import aws
from chalicelib.config import get_settings


def redrive(sqs, dlq_url, queue_url, limit=100000):
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


def main():
    queue = os.environ.get('NOTIFY_QUEUE_NAME', 'orders-notifications')
    dlq = os.environ.get('NOTIFY_DLQ_NAME', f'{queue}-dlq')
    sqs = aws.client('sqs', get_settings().aws_region)
    moved = redrive(sqs, sqs.get_queue_url(QueueName=dlq)['QueueUrl'],
                    sqs.get_queue_url(QueueName=queue)['QueueUrl'])
    print(f'moved {moved} messages from {dlq} back to {queue}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
