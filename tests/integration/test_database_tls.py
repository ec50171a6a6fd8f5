"""DB_SSL_CA against a real server: a private MariaDB with a certificate for
127.0.0.1 signed by a CA made for the test, and a user that REQUIRE SSL, so
that any login which is not TLS is refused by the server itself."""

import pymysql
import pytest

from chalicelib.storage import connection
from tests.support import HEALTHY, create_order, json_of, order_body, send

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PASSWORD = 'tls-test-password'


@pytest.fixture
def tls_only_user(private_mariadb):
    """(database, user): the user may sign in over TLS only."""
    database = private_mariadb.create_database()
    return database, private_mariadb.create_user(database, PASSWORD, require_ssl=True)


def server_env(server, database, user, host='127.0.0.1', **extra):
    return {
        'DB_HOST': host,
        'DB_PORT': str(server.port),
        'DB_NAME': database,
        'DB_USER': user,
        'DB_PASSWORD': PASSWORD,
        **extra,
    }


def session_tls_version():
    [(_, version)] = connection.database.execute_sql(
        "SHOW SESSION STATUS LIKE 'Ssl_version'"
    ).fetchall()
    return version


def assert_unavailable(response):
    assert response.status_code == 503, response.body
    assert json_of(response)['Code'] == 'ServiceUnavailable'
    assert response.headers['Retry-After'] == '1'


def test_the_right_ca_connects_over_tls_and_serves_a_201(private_mariadb, tls_only_user, serve):
    client = serve(**server_env(private_mariadb, *tls_only_user, DB_SSL_CA=str(private_mariadb.ca)))

    order = create_order(client)

    assert session_tls_version().startswith('TLSv1')
    assert json_of(send(client, 'GET', f'/orders/{order["order_id"]}'))['version'] == 1
    assert json_of(send(client, 'GET', '/health')) == HEALTHY


def test_a_server_certificate_from_another_ca_is_a_503_with_its_cause_logged(
    private_mariadb, tls_only_user, serve, logged
):
    client = serve(
        **server_env(private_mariadb, *tls_only_user, DB_SSL_CA=str(private_mariadb.other_ca))
    )

    assert_unavailable(send(client, 'POST', '/orders', order_body()))
    assert send(client, 'GET', '/health').status_code == 503
    [first, second] = logged.messages('ERROR')
    assert first.startswith('Database unavailable: OperationalError 2003')
    assert 'CERTIFICATE_VERIFY_FAILED' in first and first == second
    assert PASSWORD not in ' '.join(logged.messages())


def test_a_certificate_for_another_name_is_a_503(private_mariadb, tls_only_user, serve, logged):
    # The chain is good, but the certificate names 127.0.0.1, not localhost.
    client = serve(
        **server_env(
            private_mariadb, *tls_only_user, host='localhost', DB_SSL_CA=str(private_mariadb.ca)
        )
    )

    assert_unavailable(send(client, 'POST', '/orders', order_body()))
    [line] = logged.messages('ERROR')
    assert "certificate is not valid for 'localhost'" in line or 'mismatch' in line, line


def test_without_db_ssl_ca_a_server_that_insists_on_tls_is_refused_not_reached(
    private_mariadb, tls_only_user, serve, logged
):
    database, user = tls_only_user
    client = serve(**server_env(private_mariadb, database, user))

    assert_unavailable(send(client, 'POST', '/orders', order_body()))
    [line] = logged.messages('ERROR')
    assert line.startswith('Database unavailable: OperationalError 1045')
    assert PASSWORD not in line
    # Left to its default, PyMySQL would have got in over TLS it never
    # checked: that is what the service refuses to do.
    unchecked = pymysql.connect(
        host='127.0.0.1', port=private_mariadb.port, user=user, password=PASSWORD, database=database
    )
    with unchecked.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert cursor.fetchone()[1].startswith('TLSv1')
    unchecked.close()
