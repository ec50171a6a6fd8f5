"""Where the service's database user and password come from, with fakes for
Secrets Manager and the RDS signer and a clock the test moves."""

import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.platform.config import settings_from
from chalicelib.storage.credentials import (
    SECRET_TTL,
    CredentialsUnavailable,
    FixedCredentials,
    IamAuthToken,
    SecretCredentials,
    credentials_for,
)

ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/prod/db-AbCdEf'


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeSecretsManager:
    """Records each read; answers the current secret, or raises `failure`."""

    def __init__(self, username='orders_app', password='first'):
        self.secret = json.dumps({'username': username, 'password': password})
        self.reads = []
        self.failure = None

    def get_secret_value(self, SecretId):
        self.reads.append(SecretId)
        if self.failure:
            raise self.failure
        return {'SecretString': self.secret}


def secret_credentials(secrets, clock):
    return SecretCredentials(lambda: secrets, ARN, monotonic=clock)


def denied():
    return ClientError(
        {
            'Error': {
                'Code': 'AccessDeniedException',
                'Message': 'not authorized to read the secret',
            }
        },
        'GetSecretValue',
    )


def test_the_secret_is_read_on_first_use_and_kept_until_its_ttl():
    secrets, clock = FakeSecretsManager(), Clock()
    credentials = secret_credentials(secrets, clock)

    assert secrets.reads == []
    assert credentials.get() == ('orders_app', 'first')
    clock.now += SECRET_TTL - 1
    credentials.get()
    assert secrets.reads == [ARN]

    secrets.secret = json.dumps({'username': 'orders_app', 'password': 'rotated'})
    clock.now += 1
    assert credentials.get() == ('orders_app', 'rotated')
    assert len(secrets.reads) == 2


def test_renew_reads_the_secret_at_once_and_says_whether_it_changed():
    secrets, clock = FakeSecretsManager(), Clock()
    credentials = secret_credentials(secrets, clock)
    credentials.get()

    assert credentials.renew() is False
    secrets.secret = json.dumps({'username': 'orders_app', 'password': 'rotated'})
    assert credentials.renew() is True
    assert credentials.get() == ('orders_app', 'rotated')
    assert len(secrets.reads) == 3


@pytest.mark.parametrize(
    'failure, says',
    [
        (denied(), 'ClientError AccessDeniedException'),
        (
            EndpointConnectionError(endpoint_url='https://secretsmanager.eu-west-1.amazonaws.com'),
            'EndpointConnectionError',
        ),
    ],
)
def test_a_secrets_manager_failure_is_credentials_unavailable_naming_its_cause(failure, says):
    secrets = FakeSecretsManager()
    secrets.failure = failure

    with pytest.raises(CredentialsUnavailable, match=says):
        secret_credentials(secrets, Clock()).get()


def test_a_secret_that_cannot_be_read_again_after_its_ttl_is_used_as_it_was():
    secrets, clock = FakeSecretsManager(), Clock()
    credentials = secret_credentials(secrets, clock)
    credentials.get()

    secrets.failure = denied()
    clock.now += SECRET_TTL
    assert credentials.get() == ('orders_app', 'first')
    with pytest.raises(CredentialsUnavailable):
        credentials.renew()


@pytest.mark.parametrize('secret', ['not json', '{"username": "orders_app"}', '["pw"]'])
def test_a_malformed_secret_is_refused_without_repeating_what_it_holds(secret):
    secrets = FakeSecretsManager()
    secrets.secret = secret.replace('"pw"', '"hunter2"')

    with pytest.raises(CredentialsUnavailable) as raised:
        secret_credentials(secrets, Clock()).get()
    assert 'hunter2' not in str(raised.value) and 'orders_app' not in str(raised.value)


class FakeSigner:
    def __init__(self):
        self.calls = []

    def generate_db_auth_token(self, **kwargs):
        self.calls.append(kwargs)
        return f'token-{len(self.calls)}'


def test_an_iam_token_is_signed_for_every_connection_and_renew_adds_nothing():
    signer = FakeSigner()
    token = IamAuthToken(lambda: signer, 'proxy.example.com', 3306, 'orders_app', 'eu-west-1')

    assert token.get() == ('orders_app', 'token-1')
    assert token.get() == ('orders_app', 'token-2')
    assert (
        signer.calls
        == [
            {
                'DBHostname': 'proxy.example.com',
                'Port': 3306,
                'DBUsername': 'orders_app',
                'Region': 'eu-west-1',
            }
        ]
        * 2
    )
    assert token.renew() is False


def test_each_configuration_gets_its_source_of_credentials():
    iam = settings_from(
        {'DB_HOST': 'db', 'DB_USER': 'u', 'DB_SSL_CA': '/ca.pem', 'DB_IAM_AUTH': 'true'}
    )
    secret = settings_from({'DB_HOST': 'db', 'DB_SECRET_ARN': ARN})
    fixed = settings_from({'DB_HOST': 'db', 'DB_USER': 'u', 'DB_PASSWORD': 'p'})

    assert isinstance(credentials_for(iam), IamAuthToken)
    assert isinstance(credentials_for(secret), SecretCredentials)
    assert credentials_for(fixed).get() == ('u', 'p')
    assert FixedCredentials('u', 'p').renew() is False
