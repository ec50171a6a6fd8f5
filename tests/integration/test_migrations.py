"""Schema migrations on SQLite and MariaDB: a database the last unversioned
release made is upgraded in place with every order kept exactly; the steps
add up to what the models declare; a step cut short runs again."""

import itertools
import json
from decimal import Decimal
from pathlib import Path

import pymysql
import pytest

from chalicelib.identity.principal import STAFF, Principal
from chalicelib.orders import counts
from chalicelib.orders.commands import NewOrder, NewOrderItem
from chalicelib.orders.service import OrderService
from chalicelib.platform.config import settings_from
from chalicelib.storage import connection, migrations
from chalicelib.storage.models import MODELS, IdempotencyKey
from tests.support import MARIADB, mariadb_url

STAFF_MEMBER = Principal(sub='staff-1', role=STAFF)
FIXTURES = Path(__file__).parent / 'fixtures'
STEP_VERSIONS = [number for number, _, _ in migrations.STEPS]
_numbers = itertools.count(1)


class Blank:
    """New empty databases of one kind; `open()` points the service at one."""

    def __init__(self, kind, tmp_path, server_database):
        self.kind = kind
        self.tmp_path = tmp_path
        self.server_database = server_database
        self.made = []
        self.opened = []

    def open(self):
        if self.kind == 'sqlite':
            url = f'sqlite:///{self.tmp_path}/blank{next(_numbers)}.sqlite3'
        else:
            name = f'{self.server_database}_m{next(_numbers)}'
            _server(f'CREATE DATABASE `{name}`')
            self.made.append(name)
            url = mariadb_url(name)
        connection.open_database(settings_from({'DATABASE_URL': url, 'DB_SSL_CA': 'off'}))
        connection.connect()
        self.opened.append(connection.database.obj)
        return connection.database.obj

    def drop_all(self):
        connection.discard_connection()
        for db in self.opened:
            db.close()
        for name in self.made:
            _server(f'DROP DATABASE IF EXISTS `{name}`')


def _server(sql):
    conn = pymysql.connect(autocommit=True, **MARIADB)
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


@pytest.fixture(params=['sqlite', pytest.param('mariadb', marks=pytest.mark.mariadb)])
def blank(request, tmp_path):
    server_database = (
        request.getfixturevalue('mariadb_database') if request.param == 'mariadb' else None
    )
    databases = Blank(request.param, tmp_path, server_database)
    yield databases
    databases.drop_all()


def make_unversioned_schema(db, kind):
    """The tables exactly as the last release without schema versions made them."""
    text = (FIXTURES / f'unversioned_schema.{kind}.sql').read_text()
    lines = [line for line in text.splitlines() if not line.startswith('--')]
    for statement in '\n'.join(lines).split(';'):
        if statement.strip():
            db.execute_sql(statement)


# What that release's service would have written, as plain SQL (ids 3 and 5
# were deleted, so the next order id is 6 on both databases).
ORDERS = [
    (
        1,
        7,
        'ada@example.com',
        'pending',
        '109.97',
        '2026-11-25 10:00:00.123456',
        '2026-11-25 10:00:00.123456',
        1,
    ),
    (2, 8, None, 'shipped', '0.30', '2026-11-25 10:00:01.000001', '2026-11-25 11:30:00.999999', 3),
    (3, 8, None, 'pending', '1.00', '2026-11-25 10:00:02.000002', '2026-11-25 10:00:02.000002', 1),
    (
        4,
        9,
        'grace@example.com',
        'cancelled',
        '99999999.99',
        '2026-11-26 00:00:00.500000',
        '2026-11-26 00:00:01.250000',
        2,
    ),
    (5, 9, None, 'pending', '2.00', '2026-11-26 00:00:02.000002', '2026-11-26 00:00:02.000002', 1),
]
ITEMS = [
    (1, 1, 101, 2, '29.99'),
    (2, 1, 102, 1, '49.99'),
    (3, 2, 7, 1, '0.10'),
    (4, 2, 8, 1, '0.20'),
    (5, 3, 9, 1, '1.00'),
    (6, 4, 55, 1, '99999999.99'),
    (7, 5, 9, 2, '1.00'),
]
STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'cancelled']
COUNTED = {('pending', 3): 1, ('shipped', 0): 1, ('cancelled', 15): 1}
ORDER_1_ANSWER = json.dumps(
    {
        'order_id': 1,
        'user_id': 7,
        'user_email': 'ada@example.com',
        'status': 'pending',
        'order_total': 109.97,
        'created_at': '2026-11-25T10:00:00.123456Z',
        'updated_at': '2026-11-25T10:00:00.123456Z',
        'version': 1,
        'items': [
            {'order_item_id': 1, 'product_id': 101, 'quantity': 2, 'price_at_order': 29.99},
            {'order_item_id': 2, 'product_id': 102, 'quantity': 1, 'price_at_order': 49.99},
        ],
    },
    separators=(',', ':'),
)
KEYS = [
    ('retry-me', 'a' * 64, ORDER_1_ANSWER, '2026-11-25 10:00:00.123456'),
    ('retry-me ', 'b' * 64, None, '2026-11-25 10:00:03.000003'),
]
OUTBOX = [
    (
        1,
        '6f0c1d2e-0000-4000-8000-000000000001',
        'order_created',
        1,
        'Order Created',
        '{"event_type":"order_created","order_id":1}',
        '2026-11-25 10:00:00.123456',
        '2026-11-25 10:00:00.200000',
        'sns-message-1',
    ),
    (
        2,
        '6f0c1d2e-0000-4000-8000-000000000002',
        'order_shipped',
        2,
        'Order Shipped',
        '{"event_type":"order_shipped","order_id":2}',
        '2026-11-25 11:30:00.999999',
        None,
        None,
    ),
]
PROCESSED = [('6f0c1d2e-0000-4000-8000-000000000001', '2026-11-25 10:00:01.000001')]
OLD_COLUMNS = {
    'orders': 'order_id, user_id, user_email, status, order_total, created_at, updated_at, version',
    'order_items': 'order_item_id, order_id, product_id, quantity, price_at_order',
    'order_counts': 'status, shard, n',
    'idempotency_keys': 'key, request_hash, response_body, created_at',
    'outbox': 'id, event_id, event_type, order_id, subject, body, created_at, '
    'published_at, sns_message_id',
    'processed_events': 'event_id, processed_at',
}


def _quoted(db, columns):
    # `key` is a reserved word on MariaDB.
    return ', '.join(f'{db.quote[0]}{column}{db.quote[1]}' for column in columns.split(', '))


def fill_like_the_previous_release(db):
    def insert(table, columns, rows):
        marks = ', '.join([db.param] * len(rows[0]))
        quoted = _quoted(db, columns)
        for row in rows:
            db.execute_sql(f'INSERT INTO {table} ({quoted}) VALUES ({marks})', row)

    insert('orders', OLD_COLUMNS['orders'], ORDERS)
    insert('order_items', OLD_COLUMNS['order_items'], ITEMS)
    db.execute_sql('DELETE FROM orders WHERE order_id IN (3, 5)')  # items go with them
    insert(
        'order_counts',
        OLD_COLUMNS['order_counts'],
        [
            (status, shard, COUNTED.get((status, shard), 0))
            for status in STATUSES
            for shard in range(16)
        ],
    )
    insert('idempotency_keys', OLD_COLUMNS['idempotency_keys'], KEYS)
    insert('outbox', OLD_COLUMNS['outbox'], OUTBOX)
    insert('processed_events', OLD_COLUMNS['processed_events'], PROCESSED)


def rows_of(db):
    """Every row of the previous release's tables, in its columns."""
    found = {}
    for table, columns in OLD_COLUMNS.items():
        quoted = _quoted(db, columns)
        found[table] = [
            tuple(row)
            for row in db.execute_sql(f'SELECT {quoted} FROM {table} ORDER BY {quoted}').fetchall()
        ]
    return found


def schema_of(db):
    """Tables, their columns (in order, with types, NULL and defaults),
    indexes and foreign keys, as the database itself reports them."""
    if connection.is_sqlite():
        return _sqlite_schema(db)
    return _mariadb_schema(db)


def _sqlite_schema(db):
    schema = {}
    for table, sql in db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall():
        indexes = {}
        for _, name, unique, origin, _ in db.execute_sql(f'PRAGMA index_list("{table}")'):
            columns = [row[2] for row in db.execute_sql(f'PRAGMA index_info("{name}")')]
            indexes[name] = (bool(unique), origin, columns)
        schema[table] = {
            'columns': [tuple(row[1:]) for row in db.execute_sql(f'PRAGMA table_info("{table}")')],
            'indexes': indexes,
            'foreign_keys': sorted(
                tuple(row[2:7]) for row in db.execute_sql(f'PRAGMA foreign_key_list("{table}")')
            ),
            'autoincrement': 'AUTOINCREMENT' in sql.upper(),
        }
    return schema


def _mariadb_schema(db):
    schema = {}
    for table, engine, collation in db.execute_sql(
        'SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES '
        'WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME'
    ).fetchall():
        schema[table] = {
            'table': (engine, collation),
            'columns': [
                tuple(row)
                for row in db.execute_sql(
                    'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, '
                    'COLLATION_NAME FROM information_schema.COLUMNS '
                    'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s '
                    'ORDER BY ORDINAL_POSITION',
                    (table,),
                )
            ],
            'indexes': [
                tuple(row)
                for row in db.execute_sql(
                    'SELECT INDEX_NAME, NON_UNIQUE, '
                    'GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) '
                    'FROM information_schema.STATISTICS '
                    'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s '
                    'GROUP BY INDEX_NAME, NON_UNIQUE ORDER BY INDEX_NAME',
                    (table,),
                )
            ],
            'foreign_keys': [
                tuple(row)
                for row in db.execute_sql(
                    'SELECT k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, '
                    'r.DELETE_RULE, r.UPDATE_RULE FROM information_schema.KEY_COLUMN_USAGE k '
                    'JOIN information_schema.REFERENTIAL_CONSTRAINTS r '
                    'ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA '
                    'AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME '
                    'WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = %s '
                    'ORDER BY k.COLUMN_NAME',
                    (table,),
                )
            ],
        }
    return schema


# Step 8: an older order had nothing beside its lines, and its subtotal is its total.
NOTHING_BESIDE = {
    'discount_total': 0,
    'shipping_total': 0,
    'tax_total': 0,
    'prices_include_tax': False,
    'shipping_address': None,
    'billing_address': None,
    'shipping': None,
    'discount': None,
}
LINE_UNTAXED = {'discount': 0, 'tax': 0, 'tax_rate': 0}


UNPAID = {
    'status': 'unpaid',
    'amount_paid': 0.0,
    'amount_refunded': 0.0,
    'provider': None,
    'reference': None,
}


def without_versions(schema):
    return {table: shape for table, shape in schema.items() if table != 'schema_version'}


def test_an_unversioned_database_is_upgraded_in_place_keeping_every_order(blank):
    fresh = blank.open()
    migrations.upgrade(counts.recount)
    fresh_schema = schema_of(fresh)
    db = blank.open()
    make_unversioned_schema(db, blank.kind)
    fill_like_the_previous_release(db)
    before = rows_of(db)

    applied = migrations.upgrade(counts.recount)

    assert applied == STEP_VERSIONS
    assert migrations.version() == migrations.LATEST
    assert rows_of(db) == before
    assert schema_of(db) == fresh_schema
    service = OrderService()
    # What the previous release answered, and the shipment step 5 knows of.
    # In the default currency, with lines of no known SKU or name (step 6).
    order_1 = json.loads(ORDER_1_ANSWER)
    assert service.get_order(STAFF_MEMBER, 1) == {
        **order_1,
        **NOTHING_BESIDE,
        'subtotal': order_1['order_total'],
        'shipment': None,
        'currency': 'USD',
        'items': [{**item, **LINE_UNTAXED, 'sku': None, 'name': None} for item in order_1['items']],
        'payment': UNPAID,
    }
    # Step 7 counts a shipped order paid, outside the service, in full.
    assert service.get_order(STAFF_MEMBER, 2) == {
        'order_id': 2,
        'user_id': 8,
        'user_email': None,
        'status': 'shipped',
        'order_total': 0.3,
        'subtotal': 0.3,
        **NOTHING_BESIDE,
        'created_at': '2026-11-25T10:00:01.000001Z',
        'updated_at': '2026-11-25T11:30:00.999999Z',
        'version': 3,
        'currency': 'USD',
        'items': [
            {
                'order_item_id': 3,
                'product_id': 7,
                'sku': None,
                'name': None,
                'quantity': 1,
                'price_at_order': 0.1,
                **LINE_UNTAXED,
            },
            {
                'order_item_id': 4,
                'product_id': 8,
                'sku': None,
                'name': None,
                'quantity': 1,
                'price_at_order': 0.2,
                **LINE_UNTAXED,
            },
        ],
        'shipment': {
            'carrier': None,
            'tracking_number': None,
            'tracking_url': None,
            'shipped_at': '2026-11-25T11:30:00.999999Z',
        },
        'payment': {
            'status': 'paid',
            'amount_paid': 0.3,
            'amount_refunded': 0.0,
            'provider': None,
            'reference': None,
        },
    }
    totals = {row[0]: row[4] for row in before['orders']}
    assert [Decimal(str(totals[n])) for n in (1, 2, 4)] == [
        Decimal('109.97'),
        Decimal('0.30'),
        Decimal('99999999.99'),
    ]
    assert counts.total() == 3


def test_ids_of_orders_deleted_before_the_upgrade_are_never_handed_out_again(blank):
    db = blank.open()
    make_unversioned_schema(db, blank.kind)
    fill_like_the_previous_release(db)
    migrations.upgrade(counts.recount)

    created = (
        OrderService()
        .create_order(
            STAFF_MEMBER,
            NewOrder(
                user_id=9,
                items=(NewOrderItem(product_id=1, quantity=1, price_at_order=Decimal('0.01')),),
            ),
        )
        .body
    )

    assert created['order_id'] == 6
    assert created['items'][0]['order_item_id'] == 8


def test_keys_completed_before_the_upgrade_go_with_their_order(blank):
    db = blank.open()
    make_unversioned_schema(db, blank.kind)
    fill_like_the_previous_release(db)
    migrations.upgrade(counts.recount)
    assert {key.key: key.order_id for key in IdempotencyKey.select()} == {
        'retry-me': 1,
        'retry-me ': None,
    }

    OrderService().delete_order(STAFF_MEMBER, 1)

    assert [key.key for key in IdempotencyKey.select()] == ['retry-me ']


def test_the_steps_build_exactly_what_the_models_declare(blank):
    migrated = blank.open()
    migrations.upgrade(counts.recount)
    migrated_schema = schema_of(migrated)
    declared = blank.open()
    declared.create_tables(MODELS)

    assert without_versions(migrated_schema) == schema_of(declared)
    assert [
        row[0]
        for row in migrated.execute_sql('SELECT version FROM schema_version ORDER BY version')
    ] == STEP_VERSIONS


def test_upgrading_an_up_to_date_database_does_nothing(blank):
    blank.open()
    migrations.upgrade(counts.recount)

    assert migrations.upgrade(counts.recount) == []
    assert migrations.version() == migrations.LATEST


def test_steps_cut_short_by_a_dead_copy_run_again_to_the_same_schema(blank):
    db = blank.open()
    migrations.upgrade(counts.recount)
    expected = schema_of(db)
    # A copy that died after every step's DDL but before recording any
    # version (MariaDB has committed each statement already).
    db.execute_sql('DELETE FROM schema_version')

    assert migrations.upgrade(counts.recount) == STEP_VERSIONS
    assert schema_of(db) == expected


@pytest.fixture
def blank_mariadb(mariadb_database, tmp_path):
    databases = Blank('mariadb', tmp_path, mariadb_database)
    yield databases
    databases.drop_all()


@pytest.mark.mariadb
def test_a_copy_that_cannot_take_the_schema_lock_in_time_gives_up(blank_mariadb, monkeypatch):
    blank = blank_mariadb
    blank.open()
    other_copy = pymysql.connect(database=blank.made[-1], **MARIADB)
    other_copy.cursor().execute("SELECT GET_LOCK(CONCAT('orders_schema.', DATABASE()), 0)")
    monkeypatch.setattr(migrations, 'LOCK_WAIT_SECONDS', 0)

    with pytest.raises(migrations.SchemaLocked):
        migrations.upgrade(counts.recount)
    # Let go before closing: a lock goes with its connection, but the server
    # frees it only when its thread notices the close, which may be after the
    # next upgrade asks for it (seen as a random SchemaLocked on a busy machine).
    other_copy.cursor().execute("SELECT RELEASE_LOCK(CONCAT('orders_schema.', DATABASE()))")
    other_copy.close()

    assert migrations.version() == 0
    assert migrations.upgrade(counts.recount) == STEP_VERSIONS
