import boto3
from moto import mock_aws

from chalicelib.wiring.cli import redrive


@mock_aws
def test_redrive_moves_every_dead_letter_back_to_the_queue():
    sqs = boto3.client('sqs', region_name='us-east-1')
    queue = sqs.create_queue(QueueName='orders-notifications')['QueueUrl']
    dlq = sqs.create_queue(QueueName='orders-notifications-dlq')['QueueUrl']
    for n in range(23):
        sqs.send_message(QueueUrl=dlq, MessageBody=f'{{"n": {n}}}')

    moved = redrive(sqs, dlq, queue)

    assert moved == 23
    bodies = set()
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages'):
        for message in batch:
            bodies.add(message['Body'])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message['ReceiptHandle'])
    assert bodies == {f'{{"n": {n}}}' for n in range(23)}
    assert sqs.receive_message(QueueUrl=dlq).get('Messages') is None
