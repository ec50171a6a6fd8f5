"""No connection to spare, for real, on the private MariaDB: a user at its
MAX_USER_CONNECTIONS (1226), and a server at its max_connections (1040).
Both are a 503 whose Retry-After is spread over 1 to 3 seconds, so copies
turned away together do not come back together; both log their code."""

import contextlib

import pymysql
import pytest

from tests.support import json_of, order_body, send

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PASSWORD = 'limits-test-password'
TURNED_AWAY = 20  # requests answered while no connection is free


def server_env(server, database, user):
    return {
        'DB_HOST': '127.0.0.1',
        'DB_PORT': str(server.port),
        'DB_NAME': database,
        'DB_USER': user,
        'DB_PASSWORD': PASSWORD,
    }


def sign_in(server, database, user):
    return pymysql.connect(
        host='127.0.0.1',
        port=server.port,
        user=user,
        password=PASSWORD,
        database=database,
        ssl_disabled=True,
    )


def assert_turned_away(client, logged, code):
    answers = [send(client, 'POST', '/orders', order_body()) for _ in range(TURNED_AWAY)]

    assert {answer.status_code for answer in answers} == {503}
    assert {json_of(answer)['Code'] for answer in answers} == {'ServiceUnavailable'}
    waits = {int(answer.headers['Retry-After']) for answer in answers}
    # 20 draws from 1..3 agree by chance once in 10^9 runs.
    assert waits <= {1, 2, 3} and len(waits) > 1, waits
    lines = logged.messages('ERROR')
    assert len(lines) == TURNED_AWAY
    assert all(
        line.startswith(f'Database unavailable: OperationalError {code}') for line in lines
    ), lines[0]
    health = send(client, 'GET', '/health')
    assert health.status_code == 503 and 1 <= int(health.headers['Retry-After']) <= 3


def test_a_user_at_its_connection_limit_is_a_503_with_a_spread_retry_after(
    private_mariadb, serve, logged
):
    database = private_mariadb.create_database()
    user = private_mariadb.create_user(database, PASSWORD, max_user_connections=1)
    client = serve(**server_env(private_mariadb, database, user))
    holder = sign_in(private_mariadb, database, user)

    assert_turned_away(client, logged, 1226)

    holder.close()
    assert send(client, 'POST', '/orders', order_body()).status_code == 201


@contextlib.contextmanager
def server_full(server, database, user):
    """Lower max_connections to its minimum (10) and take every connection it
    allows, as a fleet of other copies would."""
    [(before,)] = server.execute('SELECT @@GLOBAL.max_connections')
    server.execute('SET GLOBAL max_connections = 10')
    taken = []
    try:
        while True:
            try:
                taken.append(sign_in(server, database, user))
            except pymysql.err.OperationalError as exc:
                assert exc.args[0] == 1040, exc
                break
            assert len(taken) <= 10
        yield taken
    finally:
        for conn in taken:
            conn.close()
        server.execute(f'SET GLOBAL max_connections = {before}')


def test_a_server_out_of_connections_is_the_same_503(private_mariadb, serve, logged):
    database = private_mariadb.create_database()
    user = private_mariadb.create_user(database, PASSWORD)
    client = serve(**server_env(private_mariadb, database, user))

    with server_full(private_mariadb, database, private_mariadb.create_user(database, PASSWORD)):
        assert_turned_away(client, logged, 1040)

    assert send(client, 'POST', '/orders', order_body()).status_code == 201
