"""DB_SECRET_ARN: the password rotated under a warm container, and Secrets
Manager failing at cold start. The secret is in moto's Secrets Manager (in
process), the database is the private MariaDB, and the service's reads of
the secret are counted on its own boto3 client."""

import json
import socket

import boto3
import pytest
from moto import mock_aws

from chalicelib.platform import aws
from tests.support import (
    HEALTHY,
    REGION,
    UNHEALTHY,
    create_order,
    idle_long_enough,
    json_of,
    order_body,
    send,
)

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]


class Secret:
    def __init__(self, server, secretsmanager):
        self.server = server
        self.secretsmanager = secretsmanager
        self.database = server.create_database()
        self.password = 'first-password'
        self.user = server.create_user(self.database, self.password)
        self.arn = secretsmanager.create_secret(
            Name=f'orders/test/{self.database}', SecretString=self._value()
        )['ARN']

    def _value(self):
        return json.dumps({'username': self.user, 'password': self.password})

    def env(self):
        return {
            'DB_HOST': '127.0.0.1',
            'DB_PORT': str(self.server.port),
            'DB_NAME': self.database,
            'DB_SECRET_ARN': self.arn,
        }

    def change_database_password(self, password):
        self.password = password
        self.server.set_password(self.user, password)

    def store(self):
        self.secretsmanager.put_secret_value(SecretId=self.arn, SecretString=self._value())

    def rotate(self, password):
        """As a rotation function does it: the database first, then the secret."""
        self.change_database_password(password)
        self.store()


@pytest.fixture
def secret(private_mariadb):
    with mock_aws():
        yield Secret(private_mariadb, boto3.client('secretsmanager', region_name=REGION))


def count_secret_reads():
    """The service's own Secrets Manager client, with each GetSecretValue counted."""
    reads = []
    aws.client('secretsmanager', REGION).meta.events.register(
        'before-call.secrets-manager.GetSecretValue', lambda **_: reads.append(True)
    )
    return reads


def drop_the_connection(secret, frozen_clock):
    """The server ends the service's connection (a restart, a failover) while
    the container sits idle long enough to ping before its next request."""
    assert secret.server.kill_connections(secret.user) == 1
    idle_long_enough(frozen_clock)


def test_a_rotated_password_is_read_again_and_the_next_request_succeeds(
    secret, serve, frozen_clock, logged
):
    client = serve(**secret.env())
    reads = count_secret_reads()
    orders = [create_order(client) for _ in range(3)]
    assert len(reads) == 1  # once per container, not per request

    secret.rotate('second-password')
    drop_the_connection(secret, frozen_clock)
    assert create_order(client)['order_id'] > orders[-1]['order_id']
    assert len(reads) == 2
    [warning] = logged.messages('WARNING')
    assert warning.startswith('The database refused the credentials (OperationalError 1045')

    secret.rotate('third-password')
    drop_the_connection(secret, frozen_clock)
    assert json_of(send(client, 'GET', '/health')) == HEALTHY
    assert len(reads) == 3
    for order in orders:
        assert send(client, 'GET', f'/orders/{order["order_id"]}').status_code == 200
    assert logged.messages('ERROR') == []
    every_line = ' '.join(logged.messages())
    assert not any(
        password in every_line
        for password in ('first-password', 'second-password', 'third-password')
    )


def test_after_the_ttl_a_new_connection_reads_the_secret_without_a_refusal(
    secret, serve, frozen_clock, logged
):
    client = serve(**secret.env())
    reads = count_secret_reads()
    create_order(client)

    secret.rotate('second-password')
    frozen_clock.advance(300)
    drop_the_connection(secret, frozen_clock)
    create_order(client)

    assert len(reads) == 2
    assert logged.messages('WARNING') == []


def test_a_password_changed_before_its_secret_is_a_503_until_the_secret_follows(
    secret, serve, frozen_clock, logged
):
    client = serve(**secret.env())
    reads = count_secret_reads()
    create_order(client)

    secret.change_database_password('second-password')
    drop_the_connection(secret, frozen_clock)
    response = send(client, 'POST', '/orders', order_body())
    assert response.status_code == 503 and response.headers['Retry-After'] == '1'
    assert len(reads) == 2  # read again once; it had not changed, so no second try
    [line] = logged.messages('ERROR')
    assert line.startswith('Database unavailable: OperationalError 1045')

    secret.store()
    assert send(client, 'POST', '/orders', order_body()).status_code == 201
    assert len(reads) == 3


def assert_503_with_cause(client, logged, cause):
    for method, path, body in (('POST', '/orders', order_body()), ('GET', '/health', None)):
        response = send(client, method, path, body)
        assert response.status_code == 503, response.body
        assert response.headers['Retry-After'] == '1'
    assert json_of(response) == UNHEALTHY
    lines = logged.messages('ERROR')
    assert len(lines) == 2 and all(
        line.startswith(f'Database unavailable: CredentialsUnavailable {cause}') for line in lines
    ), lines


def test_a_secret_missing_at_cold_start_is_a_503_and_once_it_exists_a_201(secret, serve, logged):
    name = f'orders/test/{secret.database}-not-yet'
    client = serve(**{**secret.env(), 'DB_SECRET_ARN': name})  # a name is a SecretId too

    assert_503_with_cause(client, logged, 'ClientError ResourceNotFoundException')

    # The same warm container serves once the secret exists.
    secret.secretsmanager.create_secret(Name=name, SecretString=secret._value())
    assert send(client, 'POST', '/orders', order_body()).status_code == 201


def test_secrets_manager_unreachable_at_cold_start_is_a_503(private_mariadb, serve, logged):
    with socket.socket() as closed:
        closed.bind(('127.0.0.1', 0))
        endpoint = f'http://127.0.0.1:{closed.getsockname()[1]}'
    client = serve(
        DB_HOST='127.0.0.1',
        DB_PORT=str(private_mariadb.port),
        DB_NAME='orders',
        AWS_ENDPOINT_URL_SECRETS_MANAGER=endpoint,
        DB_SECRET_ARN=f'arn:aws:secretsmanager:{REGION}:123456789012:secret:x',
    )

    assert_503_with_cause(client, logged, 'EndpointConnectionError')
