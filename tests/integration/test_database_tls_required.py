"""A deployed stage that reaches MySQL (by DB_HOST or by a mysql://
DATABASE_URL) uses verified TLS or does not connect at all: without
DB_SSL_CA every request is a 503 with one log line saying why, and nothing
reaches the host (here a stand-in server that records the password it is
sent). DB_SSL_CA=off connects in plaintext, on purpose."""

import shutil
from urllib.parse import quote

import pytest

from chalicelib.platform.config import get_settings
from tests.integration.clear_password_server import ClearPasswordServer
from tests.integration.private_mariadb import make_ca, make_server_certificate
from tests.support import IN_CI, json_of, order_body, send

pytestmark = [pytest.mark.slow]

PASSWORD = 'sent-in-clear?'


@pytest.fixture
def stand_in(tmp_path):
    if shutil.which('openssl') is None:
        if IN_CI:
            pytest.fail('CI=true but openssl is not found')
        pytest.skip('openssl not found')
    make_ca(tmp_path, 'ca')
    server = ClearPasswordServer(*make_server_certificate(tmp_path, 'ca', 'server', 'IP:127.0.0.1'))
    yield server
    server.stop()


def deployed(serve, stand_in, **extra):
    """The app as a container of the prod stage whose DB_HOST is the stand-in."""
    client = serve(
        ENVIRONMENT='prod',
        DB_HOST='127.0.0.1',
        DB_PORT=str(stand_in.port),
        DB_NAME='orders',
        DB_USER='orders_app',
        DB_PASSWORD=PASSWORD,
        AUTO_MIGRATE='false',
        **extra,
    )
    # Read before the test client puts the local stage's variables around a request.
    assert get_settings().environment == 'prod'
    return client


def test_a_deployed_stage_without_db_ssl_ca_sends_nothing_and_answers_503(serve, stand_in, logged):
    client = deployed(serve, stand_in)

    response = send(client, 'POST', '/orders', order_body())
    health = send(client, 'GET', '/health')

    assert response.status_code == 503 and json_of(response)['Code'] == 'ServiceUnavailable'
    assert health.status_code == 503
    assert stand_in.logins == []
    first, second = logged.messages('ERROR')
    assert first == second
    assert 'DB_HOST is set on a deployed stage without DB_SSL_CA' in first
    assert PASSWORD not in first


def test_a_deployed_stage_naming_mysql_by_database_url_sends_nothing_either(
    serve, stand_in, logged
):
    client = serve(
        ENVIRONMENT='prod',
        DATABASE_URL=f'mysql://orders_app:{quote(PASSWORD)}@127.0.0.1:{stand_in.port}/orders',
        AUTO_MIGRATE='false',
    )
    assert get_settings().environment == 'prod'

    response = send(client, 'POST', '/orders', order_body())

    assert response.status_code == 503 and json_of(response)['Code'] == 'ServiceUnavailable'
    assert stand_in.logins == []
    [message] = logged.messages('ERROR')
    assert 'DATABASE_URL names a MySQL server on a deployed stage without DB_SSL_CA' in message
    assert PASSWORD not in message


def test_db_ssl_ca_off_connects_in_plaintext_on_purpose(serve, stand_in):
    client = deployed(serve, stand_in, DB_SSL_CA='off')

    assert send(client, 'GET', '/health').status_code == 200
    assert stand_in.logins == [(PASSWORD, None)]
