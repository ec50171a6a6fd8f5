"""AWS under moto for the integration tests: an SNS topic with an SQS queue
subscribed (raw delivery off, as in production), and SES."""
import json
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from chalicelib import aws, runtime
from chalicelib.config import get_settings

REGION = 'us-east-1'
SENDER = 'orders@shop.example.com'


@dataclass
class AwsWorld:
    sns: object
    sqs: object
    ses: object
    topic_arn: str
    queue_url: str
    queue_arn: str

    def subscribe_queue(self, name, filter_policy=None):
        url = self.sqs.create_queue(QueueName=name)['QueueUrl']
        arn = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
        attributes = {'FilterPolicy': json.dumps(filter_policy)} if filter_policy else {}
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol='sqs', Endpoint=arn,
                           Attributes=attributes)
        return url, arn

    def receive(self, queue_url=None):
        """Every message now on the queue (removed from it)."""
        queue_url = queue_url or self.queue_url
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                             MessageAttributeNames=['All']).get('Messages', [])
            if not batch:
                return messages
            for message in batch:
                self.sqs.delete_message(QueueUrl=queue_url,
                                        ReceiptHandle=message['ReceiptHandle'])
            messages += batch

    def events(self, queue_url=None):
        """The order events on the queue, unwrapped from their SNS envelopes."""
        return [json.loads(json.loads(m['Body'])['Message'])
                for m in self.receive(queue_url)]

    def sqs_event(self, messages):
        """A Lambda SQS event built from real queue messages (distinct ids)."""
        return {'Records': [{
            'messageId': m['MessageId'], 'receiptHandle': m['ReceiptHandle'],
            'body': m['Body'], 'attributes': {}, 'messageAttributes': {},
            'md5OfBody': m.get('MD5OfBody', ''), 'eventSource': 'aws:sqs',
            'eventSourceARN': self.queue_arn, 'awsRegion': REGION} for m in messages]}


def _use_environment(monkeypatch, **values):
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    aws.forget_clients()
    runtime.reset()


@pytest.fixture
def aws_world(environment, monkeypatch):
    """moto with a topic, a subscribed queue and a verified SES sender; the
    service is configured to publish there and send with SES."""
    with mock_aws():
        sns = boto3.client('sns', region_name=REGION)
        sqs = boto3.client('sqs', region_name=REGION)
        ses = boto3.client('ses', region_name=REGION)
        ses.verify_email_identity(EmailAddress=SENDER)
        topic_arn = sns.create_topic(Name='orders-events')['TopicArn']
        world = AwsWorld(sns, sqs, ses, topic_arn, '', '')
        world.queue_url, world.queue_arn = world.subscribe_queue('orders-notifications')
        monkeypatch.delenv('MAIL_DIR', raising=False)
        _use_environment(monkeypatch, SNS_TOPIC_ARN=topic_arn, SES_SENDER_EMAIL=SENDER)
        yield world
        runtime.reset()
        aws.forget_clients()


def sent_emails():
    from moto.ses.models import ses_backends
    from moto.core import DEFAULT_ACCOUNT_ID
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)
