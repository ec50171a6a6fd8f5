"""Fixtures of the multi-process tests: a MariaDB database of each test's own
(empty, or schema made and nothing else), the workers' environment, and a
moto server the workers share over HTTP."""

import itertools
import json
import os
import time

import boto3
import pymysql
import pytest

from tests.concurrency.harness import MotoServer
from tests.support import MARIADB, REGION, mariadb_url

_numbers = itertools.count(1)


@pytest.fixture
def empty_database(mariadb_database):
    """A new database for one scenario, without a table; dropped afterwards."""
    name = f'{mariadb_database}_c{next(_numbers)}'
    conn = pymysql.connect(autocommit=True, **MARIADB)
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE `{name}`')
    yield name
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS `{name}`')
    conn.close()


@pytest.fixture
def fresh_database(empty_database):
    """A new, migrated database for one scenario; dropped afterwards."""
    from chalicelib.orders import counts
    from chalicelib.platform.config import settings_from
    from chalicelib.storage import connection
    from chalicelib.storage.migrations import migrate

    migrate(
        settings_from({'DATABASE_URL': mariadb_url(empty_database), 'DB_SSL_CA': 'off'}),
        counts.recount,
    )
    connection.discard_connection()
    return empty_database


@pytest.fixture(scope='session')
def moto_server(tmp_path_factory):
    """A moto server on 127.0.0.1 shared by the workers (boto3 honours
    AWS_ENDPOINT_URL), in a process of its own: moto signs every message
    it fans out to SQS, and that work must not compete with the test."""
    server = MotoServer(tmp_path_factory.mktemp('sqs-spool'))
    yield server
    server.stop()


class Topic:
    """An SNS topic with an SQS queue subscribed (raw delivery off, as deployed)."""

    def __init__(self, server, name):
        kwargs = dict(
            region_name=REGION,
            endpoint_url=f'http://127.0.0.1:{server.port}',
            aws_access_key_id='testing',
            aws_secret_access_key='testing',
        )
        self.sns = boto3.client('sns', **kwargs)
        self.sqs = boto3.client('sqs', **kwargs)
        self.arn = self.sns.create_topic(Name=name)['TopicArn']
        self.queue_url = self.sqs.create_queue(QueueName=f'{name}-queue')['QueueUrl']
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=['QueueArn']
        )['Attributes']['QueueArn']
        self.sns.subscribe(TopicArn=self.arn, Protocol='sqs', Endpoint=queue_arn)
        self.spool = os.path.join(server.spool_dir, f'{name}-queue.jsonl')

    def envelopes(self):
        """Every message the queue received so far: SNS envelopes."""
        deadline = time.monotonic() + 60
        while int(
            self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=['ApproximateNumberOfMessages']
            )['Attributes']['ApproximateNumberOfMessages']
        ):
            # The spooler has not taken them yet; on a slow machine it is late,
            # which must not pass for messages lost.
            if time.monotonic() > deadline:
                raise AssertionError('the spooler did not empty the queue within 60 s')
            time.sleep(0.05)
        if not os.path.exists(self.spool):
            return []
        with open(self.spool) as spool:
            return [json.loads(json.loads(line)) for line in spool]

    def events(self):
        return [json.loads(envelope['Message']) for envelope in self.envelopes()]


@pytest.fixture
def make_topic(moto_server):
    def make():
        return Topic(moto_server, f'orders-events-{next(_numbers)}')

    return make
