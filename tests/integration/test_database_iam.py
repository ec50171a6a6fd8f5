"""DB_IAM_AUTH: each new connection signs in with an RDS IAM auth token.

No RDS here, so two halves of the proof:
- against the private MariaDB, the service's own RDS client (boto3, signing
  offline under moto) is watched: every token it signs becomes the user's
  password at once, as RDS accepts any token freshly signed by an allowed
  role. A login therefore succeeds only with the token just signed, over
  TLS (the user REQUIRE SSL), and the calls are counted;
- against a stand-in server that asks for mysql_clear_password as RDS does,
  the token is seen to arrive as it was signed, inside the TLS session.
What only AWS can prove (the signature, rds-db:connect, the token's 15
minutes) is in docs/deploy.md."""

import shutil

import pytest
from moto import mock_aws

from chalicelib.platform import aws
from chalicelib.platform.config import settings_from
from chalicelib.storage import connection
from chalicelib.storage.credentials import credentials_for
from tests.integration.clear_password_server import ClearPasswordServer
from tests.integration.private_mariadb import make_ca, make_server_certificate
from tests.support import IN_CI, REGION, create_order, idle_long_enough, json_of, send

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]


class SignedTokens:
    """Wraps an RDS client's generate_db_auth_token: records each call and
    hands each new token to `accept` before the driver uses it."""

    def __init__(self, rds, accept):
        self.calls = []
        sign = rds.generate_db_auth_token

        def generate_db_auth_token(**kwargs):
            token = sign(**kwargs)
            self.calls.append((kwargs, token))
            accept(token)
            return token

        rds.generate_db_auth_token = generate_db_auth_token


def session_tls_version():
    [(_, version)] = connection.database.execute_sql(
        "SHOW SESSION STATUS LIKE 'Ssl_version'"
    ).fetchall()
    return version


def test_each_new_connection_signs_in_with_a_fresh_iam_token_over_tls(
    private_mariadb, serve, frozen_clock, logged
):
    server = private_mariadb
    database = server.create_database()
    user = server.create_user(database, 'no token yet', require_ssl=True)
    with mock_aws():
        client = serve(
            DB_HOST='127.0.0.1',
            DB_PORT=str(server.port),
            DB_NAME=database,
            DB_USER=user,
            DB_IAM_AUTH='true',
            DB_SSL_CA=str(server.ca),
        )
        tokens = SignedTokens(
            aws.client('rds', REGION), lambda token: server.set_password(user, token)
        )

        first = create_order(client)
        assert len(tokens.calls) == 1
        [(asked, token)] = tokens.calls
        assert asked == {
            'DBHostname': '127.0.0.1',
            'Port': server.port,
            'DBUsername': user,
            'Region': REGION,
        }
        assert token.startswith(f'127.0.0.1:{server.port}/?Action=connect&DBUser={user}&')
        assert 'X-Amz-Expires=900' in token
        assert session_tls_version().startswith('TLSv1')

        # A warm connection is reused: no token is signed for it.
        assert send(client, 'GET', f'/orders/{first["order_id"]}').status_code == 200
        assert json_of(send(client, 'GET', '/health'))['database'] == 'ok'
        assert len(tokens.calls) == 1

        # The server drops it (a restart, a failover): the new connection
        # signs a token of its own.
        assert server.kill_connections(user) == 1
        idle_long_enough(frozen_clock)
        create_order(client)
        assert len(tokens.calls) == 2
        assert len(server.connection_ids(user)) == 1
        assert session_tls_version().startswith('TLSv1')
    assert not any(token in line for _, token in tokens.calls for line in logged.messages())


@pytest.fixture
def openssl():
    if shutil.which('openssl') is None:
        if IN_CI:
            pytest.fail('CI=true but openssl is not found')
        pytest.skip('openssl not found')


def test_asked_for_mysql_clear_password_the_token_goes_inside_verified_tls(openssl, tmp_path):
    ca = make_ca(tmp_path, 'ca')
    stand_in = ClearPasswordServer(
        *make_server_certificate(tmp_path, 'ca', 'server', 'IP:127.0.0.1')
    )
    settings = settings_from(
        {
            'DB_HOST': '127.0.0.1',
            'DB_PORT': str(stand_in.port),
            'DB_NAME': 'orders',
            'DB_USER': 'orders_app',
            'DB_IAM_AUTH': 'true',
            'DB_SSL_CA': str(ca),
            'AWS_REGION': REGION,
        }
    )
    try:
        with mock_aws():
            aws.forget_clients()
            database = connection.make_database(settings.database, credentials_for(settings))
            database.connect()
            database.close()
    finally:
        aws.forget_clients()
        stand_in.stop()

    [(password, tls)] = stand_in.logins
    assert password.startswith(f'127.0.0.1:{stand_in.port}/?Action=connect&DBUser=orders_app&')
    assert 'X-Amz-Signature=' in password
    assert tls is not None and tls.startswith('TLSv1')
