"""Tracing on, as in Lambda: a process of its own (LAMBDA_TASK_ROOT and a
sampled trace header set, as Lambda sets them with `"xray": true`) serves a
POST and a GET, and a fake X-Ray daemon on a UDP socket catches what the
X-Ray SDK sends. Everywhere else in the tests tracing is off
(POWERTOOLS_TRACE_DISABLED=true, tests/conftest.py)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.platform import tracing

ROOT = Path(__file__).resolve().parents[2]
TRACE_ID = '1-5759e988-bd862e3fe1be46a994272793'

CONTAINER = r"""
import json, os
from moto import mock_aws

with mock_aws():
    import boto3
    os.environ['SNS_TOPIC_ARN'] = boto3.client('sns', region_name='us-east-1') \
        .create_topic(Name='orders-events')['TopicArn']
    import app
    from chalice.test import Client
    headers = {'Authorization': 'Bearer ' + os.environ['TEST_TOKEN'],
               'Content-Type': 'application/json'}
    with Client(app.app, stage_name='local') as client:
        created = client.http.post('/orders', headers=headers, body=json.dumps(
            {'user_id': 1, 'user_email': 'ada@example.com',
             'items': [{'product_id': 101, 'quantity': 1, 'price_at_order': 9.99}]}))
        assert created.status_code == 201, created.body
        order_id = json.loads(created.body)['order_id']
        got = client.http.get(f'/orders/{order_id}', headers=headers)
        assert got.status_code == 200, got.body
"""


class FakeXrayDaemon:
    """A UDP socket where the X-Ray daemon would listen."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.socket.bind(('127.0.0.1', 0))
        self.socket.settimeout(0.5)
        self.address = '%s:%d' % self.socket.getsockname()

    def segments(self):
        """Every segment and subsegment sent so far."""
        received = []
        while True:
            try:
                datagram = self.socket.recv(65536).decode()
            except TimeoutError:
                return received
            header, body = datagram.split('\n', 1)
            assert json.loads(header) == {'format': 'json', 'version': 1}
            received.append(json.loads(body))


@pytest.fixture
def xray_daemon():
    daemon = FakeXrayDaemon()
    yield daemon
    daemon.socket.close()


def run_container(env):
    return subprocess.run(
        [sys.executable, '-c', CONTAINER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def lambda_env(xray_daemon, staff_token, **extra):
    env = {name: value for name, value in os.environ.items() if name != 'POWERTOOLS_TRACE_DISABLED'}
    env.update(
        LAMBDA_TASK_ROOT=str(ROOT),
        AWS_LAMBDA_FUNCTION_NAME='orders-dev',
        _X_AMZN_TRACE_ID=f'Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1',
        AWS_XRAY_DAEMON_ADDRESS=xray_daemon.address,
        TEST_TOKEN=staff_token,
        **extra,
    )
    return env


def test_traced_invocations_have_handler_sql_and_sns_subsegments(
    database, staff_token, xray_daemon
):
    container = run_container(lambda_env(xray_daemon, staff_token))

    assert container.returncode == 0, container.stderr[-3000:]
    sent = xray_daemon.segments()
    assert sent and {entity['trace_id'] for entity in sent} == {TRACE_ID}
    handlers = [entity for entity in sent if entity['name'] == '## handler']
    assert [h['annotations'] for h in handlers] == [
        {'ColdStart': True, 'Service': 'orders'},
        {'ColdStart': False, 'Service': 'orders'},
    ]
    handler_ids = {h['id'] for h in handlers}
    sql = [entity for entity in sent if 'sql' in entity]
    driver = 'sqlite3' if database.obj.__class__.__name__ == 'SqliteDatabase' else 'MySQL'
    assert sql and all(
        entity['namespace'] == 'remote' and entity['sql']['database_type'] == driver
        for entity in sql
    )
    assert {entity['parent_id'] for entity in sql} <= handler_ids
    # Named by the client's endpoint prefix; X-Ray's map shows it as SNS.
    [sns] = [entity for entity in sent if entity['name'] == 'sns']
    assert sns['namespace'] == 'aws' and sns['aws']['operation'] == 'Publish'
    assert sns['parent_id'] in handler_ids
    # The handler's response (the order, the customer's address) is not
    # recorded, nor is the bearer token.
    every_byte = json.dumps(sent)
    assert 'ada@example.com' not in every_byte and staff_token not in every_byte


def test_log_lines_carry_the_trace_id_when_traced(database, staff_token, xray_daemon):
    container = run_container(lambda_env(xray_daemon, staff_token))

    assert container.returncode == 0, container.stderr[-3000:]
    lines = [
        json.loads(line)
        for line in container.stdout.splitlines()
        if line.startswith('{"timestamp"')
    ]
    assert lines and {line['xray_trace_id'] for line in lines} == {TRACE_ID}


def test_trace_disabled_sends_nothing_and_never_loads_the_xray_sdk(
    database, staff_token, xray_daemon
):
    env = lambda_env(xray_daemon, staff_token, POWERTOOLS_TRACE_DISABLED='true')
    probe = CONTAINER + "\nimport sys\nassert 'aws_xray_sdk.core' not in sys.modules\n"

    container = subprocess.run(
        [sys.executable, '-c', probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert container.returncode == 0, container.stderr[-3000:]
    assert xray_daemon.segments() == []


@pytest.mark.parametrize(
    'env, on',
    [
        ({'LAMBDA_TASK_ROOT': '/var/task'}, True),
        ({'LAMBDA_TASK_ROOT': '/var/task', 'POWERTOOLS_TRACE_DISABLED': 'true'}, False),
        ({'LAMBDA_TASK_ROOT': '/var/task', 'POWERTOOLS_TRACE_DISABLED': '1'}, False),
        ({'LAMBDA_TASK_ROOT': '/var/task', 'AWS_SAM_LOCAL': 'true'}, False),
        ({'LAMBDA_TASK_ROOT': '/var/task', 'AWS_CHALICE_CLI_MODE': 'true'}, False),
        ({}, False),
    ],
)
def test_tracing_runs_only_in_lambda_and_not_when_disabled(env, on):
    assert tracing.active(env) is on
