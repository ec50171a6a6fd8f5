"""A deadlock and a lock wait, provoked for real on MariaDB by a second
connection (the "holder", in a thread of the test; the app runs in the test's
own thread, as one Lambda copy). The order service's write runs once more,
then answers 503 "busy"; either way the service keeps its connection: the
same CONNECTION_ID() before and after."""

import threading
import time

import pymysql
import pytest

from chalicelib.storage import connection
from tests.support import create_order, json_of, send

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PASSWORD = 'busy-test-password'
WAIT_TIMEOUT = 30
BALLAST_ROWS = 200


@pytest.fixture
def shop(private_mariadb, serve):
    """(client, server, database, user) with one order created."""
    database = private_mariadb.create_database()
    user = private_mariadb.create_user(database, PASSWORD)
    client = serve(
        DB_HOST='127.0.0.1',
        DB_PORT=str(private_mariadb.port),
        DB_NAME=database,
        DB_USER=user,
        DB_PASSWORD=PASSWORD,
    )
    return client, private_mariadb, database, user


def holder_connection(server, database, user):
    return pymysql.connect(
        host='127.0.0.1',
        port=server.port,
        user=user,
        password=PASSWORD,
        database=database,
        ssl_disabled=True,
        autocommit=False,
    )


def service_connection_id():
    return connection.database.execute_sql('SELECT CONNECTION_ID()').fetchone()[0]


def wait_until_waiting_for_a_lock(server, connection_id):
    deadline = time.monotonic() + WAIT_TIMEOUT
    while not server.execute(
        "SELECT 1 FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"
        f' AND trx_mysql_thread_id = {connection_id}'
    ):
        assert time.monotonic() < deadline, 'the service never waited for the lock'
        time.sleep(0.02)


def test_a_lock_held_through_both_attempts_is_a_503_busy_on_the_same_connection(shop, logged):
    client, server, database, user = shop
    order_id = create_order(client)['order_id']
    before = service_connection_id()
    # Lock waits end after 1 s instead of 50 (and well before the 5 s read timeout).
    connection.database.execute_sql('SET SESSION innodb_lock_wait_timeout = 1')
    holder = holder_connection(server, database, user)
    with holder.cursor() as cursor:
        cursor.execute('SELECT * FROM orders WHERE order_id = %s FOR UPDATE', (order_id,))

    response = send(client, 'PUT', f'/orders/{order_id}', {'status': 'paid'})

    assert response.status_code == 503, response.body
    assert json_of(response) == {
        'Code': 'ServiceUnavailable',
        'Message': 'The database is busy; try again shortly',
    }
    assert response.headers['Retry-After'] == '1'
    [retry] = logged.messages('WARNING')
    assert retry.startswith('Database busy (OperationalError 1205: Lock wait timeout')
    assert retry.endswith('running the transaction again')
    [answer] = logged.messages('ERROR')
    assert answer.startswith('Database busy: OperationalError 1205')
    assert service_connection_id() == before

    holder.rollback()
    holder.close()
    assert json_of(send(client, 'PUT', f'/orders/{order_id}', {'status': 'paid'}))['version'] == 2
    assert service_connection_id() == before


def test_a_deadlock_victim_runs_again_and_succeeds_on_the_same_connection(shop, logged):
    client, server, database, user = shop
    order_id = create_order(client)['order_id']
    before = service_connection_id()
    holder = holder_connection(server, database, user)
    with holder.cursor() as cursor:
        # InnoDB rolls back the lighter of two deadlocked transactions: the
        # holder writes rows first, so the victim is the service.
        cursor.executemany(
            'INSERT INTO processed_events (event_id, processed_at) VALUES (%s, NOW())',
            [(f'ballast-{n}',) for n in range(BALLAST_ROWS)],
        )
        # Every count row: the status change will want one of them.
        cursor.execute('SELECT * FROM order_counts FOR UPDATE')
    holder_failed = []

    def close_the_cycle():
        # Once the service holds the order row and waits for a count row,
        # ask for the order row: a deadlock.
        try:
            wait_until_waiting_for_a_lock(server, before)
            with holder.cursor() as cursor:
                cursor.execute('SELECT * FROM orders WHERE order_id = %s FOR UPDATE', (order_id,))
        except BaseException as exc:
            holder_failed.append(exc)
        finally:
            holder.rollback()  # lets the service's second attempt through
            holder.close()

    thread = threading.Thread(target=close_the_cycle)
    thread.start()

    response = send(client, 'PUT', f'/orders/{order_id}', {'status': 'paid'})
    thread.join(WAIT_TIMEOUT)

    assert holder_failed == []
    assert response.status_code == 200, response.body
    assert json_of(response)['version'] == 2
    [retry] = logged.messages('WARNING')
    assert retry.startswith('Database busy (OperationalError 1213: Deadlock found')
    assert logged.messages('ERROR') == []
    assert service_connection_id() == before
    # The first attempt left nothing behind: one event per change, counts right.
    events = server.execute(
        f'SELECT event_type FROM outbox WHERE order_id = {order_id} ORDER BY id', database=database
    )
    assert [event for (event,) in events] == ['order_created', 'order_updated']
    counts = dict(
        server.execute('SELECT status, SUM(n) FROM order_counts GROUP BY status', database=database)
    )
    assert (counts['pending'], counts['paid']) == (0, 1)
