"""The schema step of shipments and history (step 5 of storage/migrations.py) on a
database made before them: it adds what is missing, fills in what can be
known of older orders, and changes nothing when run again; on SQLite and
MariaDB. The tables are taken back to their earlier shape first; whatever
happens, the next test's schema set-up runs the step and restores them."""

from datetime import datetime

import pytest
from playhouse.migrate import SchemaMigrator

from chalicelib.storage import migrations
from chalicelib.storage.connection import is_sqlite
from chalicelib.storage.models import Order, OrderHistory
from tests.support import json_of, send

SHIPMENT_COLUMNS = ('carrier', 'tracking_number', 'tracking_url', 'shipped_at')
CREATED = datetime(2026, 1, 5, 9, 0, 0, 250000)
# (order_id, status, version, updated_at) of orders written by the earlier release.
LEGACY = [
    (1, 'pending', 1, CREATED),
    (2, 'paid', 2, datetime(2026, 1, 6, 10, 0)),
    (3, 'shipped', 3, datetime(2026, 1, 7, 11, 0, 0, 1)),
    (4, 'delivered', 4, datetime(2026, 1, 9, 12, 0)),
    (5, 'cancelled', 2, datetime(2026, 1, 8, 8, 30)),
]


def shape(database):
    """What the step is responsible for: the columns of orders and order_history
    and the indexes of order_history. Sorted, since here the step runs after
    the later steps' columns are already there (test_migrations.py checks
    the order the steps give)."""
    return (
        sorted(tuple(column[:4]) for column in database.get_columns('orders')),
        [tuple(column[:4]) for column in database.get_columns('order_history')],
        sorted(
            (index.name, tuple(index.columns), index.unique)
            for index in database.get_indexes('order_history')
        ),
    )


@pytest.fixture
def models_shape(database):
    return shape(database)


@pytest.fixture
def earlier_schema(client, database, models_shape):
    """The orders table without the shipment columns, no order_history, and
    the LEGACY orders in it, as the release before this step left them."""
    database.execute_sql('DROP TABLE order_history')
    if is_sqlite():
        for column in SHIPMENT_COLUMNS:
            database.execute_sql(f'ALTER TABLE orders DROP COLUMN {column}')
    else:
        database.execute_sql(
            'ALTER TABLE orders '
            + ', '.join(f'DROP COLUMN {column}' for column in SHIPMENT_COLUMNS)
        )
    for order_id, status, version, updated_at in LEGACY:
        database.execute_sql(
            'INSERT INTO orders (order_id, user_id, user_email, status, order_total, '
            'created_at, updated_at, version) VALUES (' + ', '.join([database.param] * 8) + ')',
            (order_id, 1, None, status, '10.00', CREATED, updated_at, version),
        )
    return database


def run_step(database, batch=None, monkeypatch=None):
    if batch is not None:
        monkeypatch.setattr(migrations, 'BATCH_ORDERS', batch)
    migrations._shipping_cancellation_history(SchemaMigrator.from_database(database))


def columns(database):
    return {column.name: column for column in database.get_columns('orders')}


def history_rows(database):
    return [
        tuple(row)
        for row in database.execute_sql(
            'SELECT order_id, version, status, actor_role, actor_sub, reason '
            'FROM order_history ORDER BY order_id, version'
        ).fetchall()
    ]


def test_step_adds_the_shipment_columns_and_the_history_table(earlier_schema):
    database = earlier_schema
    assert not set(SHIPMENT_COLUMNS) & set(columns(database))

    run_step(database)

    added = columns(database)
    assert set(SHIPMENT_COLUMNS) <= set(added)
    assert all(added[name].null for name in SHIPMENT_COLUMNS)
    assert 'order_history' in database.get_tables()
    [index] = [
        index
        for index in database.get_indexes('order_history')
        if index.columns == ['order_id', 'version']
    ]
    assert index.unique


def test_step_makes_what_the_models_make_on_a_new_database(earlier_schema, models_shape):
    run_step(earlier_schema)

    assert shape(earlier_schema) == models_shape


def test_step_gives_each_older_order_one_entry_for_the_version_it_is_at(earlier_schema):
    database = earlier_schema

    run_step(database)

    assert history_rows(database) == [
        (order_id, version, status, None, None, None) for order_id, status, version, _ in LEGACY
    ]
    at = {entry.order_id: entry.at for entry in OrderHistory.select()}
    assert at == {order_id: updated_at for order_id, _, _, updated_at in LEGACY}


def test_step_dates_the_shipment_of_a_shipped_order_and_leaves_the_unknown_unknown(earlier_schema):
    database = earlier_schema

    run_step(database)

    shipped_at = {order.order_id: order.shipped_at for order in Order.select()}
    assert shipped_at == {1: None, 2: None, 3: LEGACY[2][3], 4: None, 5: None}


def test_step_run_again_or_after_dying_halfway_writes_nothing_twice(earlier_schema, monkeypatch):
    database = earlier_schema
    run_step(database, batch=2, monkeypatch=monkeypatch)
    first = history_rows(database)
    # As if a run had died after its first batch: the later orders lack theirs.
    database.execute_sql('DELETE FROM order_history WHERE order_id > 2')

    run_step(database, batch=2, monkeypatch=monkeypatch)
    run_step(database)

    assert history_rows(database) == first


def test_older_orders_history_is_answered_with_no_author_then_grows(client, earlier_schema):
    run_step(earlier_schema)

    put = send(client, 'PUT', '/orders/2', {'status': 'cancelled', 'reason': 'Too late'})
    entries = json_of(send(client, 'GET', '/orders/2/history'))

    assert put.status_code == 200 and json_of(put)['version'] == 3
    assert entries[0] == {
        'version': 2,
        'status': 'paid',
        'at': '2026-01-06T10:00:00.000000Z',
        'by': None,
    }
    assert (entries[1]['version'], entries[1]['status'], entries[1]['reason']) == (
        3,
        'cancelled',
        'Too late',
    )
    assert entries[1]['by']['role'] == 'staff'
    shipped = json_of(send(client, 'GET', '/orders/3'))
    assert shipped['shipment'] == {
        'carrier': None,
        'tracking_number': None,
        'tracking_url': None,
        'shipped_at': '2026-01-07T11:00:00.000001Z',
    }
    assert json_of(send(client, 'GET', '/orders/4'))['shipment'] is None
