"""AWS under moto for the integration tests: an SNS topic with an SQS queue
subscribed (raw delivery off, as in production), and SES. And the
production connection path: a private MariaDB with TLS, the service
pointed at it through the DB_* variables, a clock the test moves. And the
packaged template of each stage (test_package.py, test_operations.py)."""

import json
import subprocess
from dataclasses import dataclass

import boto3
import boto3.session
import pytest
from moto import mock_aws

from chalicelib.core import clock
from chalicelib.storage import connection
from chalicelib.wiring import runtime
from tests.integration.private_mariadb import PrivateMariaDB, missing_binaries
from tests.support import IN_CI, REGION, SENDER, staff_client, trust
from tests.support_package import BIN, STAGES, Packaged, copy_project, offline_aws_env


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
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])[
            'Attributes'
        ]['QueueArn']
        attributes = {'FilterPolicy': json.dumps(filter_policy)} if filter_policy else {}
        self.sns.subscribe(
            TopicArn=self.topic_arn, Protocol='sqs', Endpoint=arn, Attributes=attributes
        )
        return url, arn

    def receive(self, queue_url=None):
        """Every message now on the queue (removed from it)."""
        queue_url = queue_url or self.queue_url
        messages = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=['All']
            ).get('Messages', [])
            if not batch:
                return messages
            for message in batch:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message['ReceiptHandle'])
            messages += batch

    def events(self, queue_url=None):
        """The order events on the queue, unwrapped from their SNS envelopes."""
        return [json.loads(json.loads(m['Body'])['Message']) for m in self.receive(queue_url)]

    def sqs_event(self, messages):
        """A Lambda SQS event built from real queue messages (distinct ids)."""
        return {
            'Records': [
                {
                    'messageId': m['MessageId'],
                    'receiptHandle': m['ReceiptHandle'],
                    'body': m['Body'],
                    'attributes': {},
                    'messageAttributes': {},
                    'md5OfBody': m.get('MD5OfBody', ''),
                    'eventSource': 'aws:sqs',
                    'eventSourceARN': self.queue_arn,
                    'awsRegion': REGION,
                }
                for m in messages
            ]
        }


def _use_environment(monkeypatch, **values):
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    runtime.reset()


# moto's defaults, but for the boto3 session: aws_world gives its own.
_KEEP_SESSION = {
    'core': {
        'mock_credentials': True,
        'passthrough': {'urls': [], 'services': []},
        'reset_boto3_session': False,
        'service_whitelist': None,
    }
}


@pytest.fixture(scope='session')
def moto_boto3_session():
    """One boto3 session for every aws_world test. moto otherwise makes boto3
    start a new default session at each start, and a new session loads
    botocore's service and endpoint data again for its first clients (the
    test's and the service's): more than half of an aws_world test's time.
    It serves only inside aws_world, under moto."""
    return boto3.session.Session()


@pytest.fixture
def aws_world(environment, monkeypatch, moto_boto3_session):
    """moto with a topic, a subscribed queue and a verified SES sender; the
    service is configured to publish there and send with SES."""
    # Set and put back by hand, not by monkeypatch: a test may undo its patches.
    before, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, moto_boto3_session
    try:
        with mock_aws(config=_KEEP_SESSION):
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
    finally:
        boto3.DEFAULT_SESSION = before


@pytest.fixture(scope='session')
def private_mariadb(tmp_path_factory):
    """A MariaDB of the tests' own with TLS (see private_mariadb.py)."""
    missing = missing_binaries()
    if missing:
        if IN_CI:
            pytest.fail(
                f'CI=true but {", ".join(missing)} not found: the TLS, IAM and '
                'rotation tests must run'
            )
        pytest.skip(f'{", ".join(missing)} not found')
    server = PrivateMariaDB(tmp_path_factory.mktemp('private-mariadb'))
    yield server
    server.stop()


class FrozenClock:
    """The service's monotonic clock, moved by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def frozen_clock(monkeypatch):
    """Connection ages and the secret's TTL follow this clock, not the wall."""
    fake = FrozenClock()
    monkeypatch.setattr(clock, 'monotonic', fake)
    return fake


@pytest.fixture
def serve(monkeypatch, tmp_path, issuer, staff_token):
    """serve(DB_HOST=..., ...): the app as a fresh Lambda container configured
    with these variables (and no DATABASE_URL), as a chalice test Client
    sending a staff token."""
    import app as app_module

    def start(**env):
        for name in (
            'DATABASE_URL',
            'DB_HOST',
            'DB_PORT',
            'DB_NAME',
            'DB_USER',
            'DB_PASSWORD',
            'DB_SECRET_ARN',
            'DB_SSL_CA',
            'DB_IAM_AUTH',
            'SNS_TOPIC_ARN',
            'SES_SENDER_EMAIL',
        ):
            monkeypatch.delenv(name, raising=False)
        defaults = {
            'AUTO_MIGRATE': 'true',
            'MAIL_DIR': str(tmp_path / 'mail'),
            'AWS_DEFAULT_REGION': REGION,
            'AWS_REGION': REGION,
            'AWS_ACCESS_KEY_ID': 'testing',
            'AWS_SECRET_ACCESS_KEY': 'testing',
        }
        for name, value in {**defaults, **env}.items():
            monkeypatch.setenv(name, value)
        trust(issuer, monkeypatch)
        runtime.reset()
        return staff_client(app_module.app, staff_token)

    yield start
    if connection.database.obj is not None:
        connection.discard_connection()
    runtime.reset()


@pytest.fixture
def stripe(client, localstripe, monkeypatch):
    """The service configured for Stripe, reaching localstripe through a
    FaultyStripe proxy of the test's own (the fixture's value)."""
    from tests.stripe_support import API_KEY, NAMESPACE, WEBHOOK_SECRET, FaultyStripe

    proxy = FaultyStripe(localstripe)
    monkeypatch.setenv('STRIPE_NAMESPACE', NAMESPACE)
    monkeypatch.setenv('STRIPE_API_KEY', API_KEY)
    monkeypatch.setenv('STRIPE_WEBHOOK_SECRET', WEBHOOK_SECRET)
    monkeypatch.setenv('STRIPE_API_BASE', proxy.url)
    runtime.reset()
    yield proxy
    proxy.stop()
    runtime.reset()


# Per session, not per module: test_package.py and test_operations.py read the
# same templates (nothing writes to them), and with xdist each worker ran
# `chalice package` for both stages once for every one of the two modules.
@pytest.fixture(scope='session', params=STAGES)
def packaged(request, tmp_path_factory):
    stage = request.param
    project = tmp_path_factory.mktemp(f'project-{stage}')
    copy_project(project)
    out_dir = project / 'build' / stage
    result = subprocess.run(
        [
            str(BIN / 'chalice'),
            'package',
            '--stage',
            stage,
            '--merge-template',
            'infra/resources.yaml',
            str(out_dir),
        ],
        cwd=project,
        env=offline_aws_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return Packaged(stage, out_dir)
