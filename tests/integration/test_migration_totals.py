"""The schema step of addresses, shipping, taxes and discounts (step 8 of
storage/migrations.py) on a database of the release before it: orders are
upgraded in place with no discount, shipping or tax and their subtotal read
as their total, and running it again changes nothing; on SQLite and MariaDB.
The tables are taken back to their earlier shape first; the step run by the
test restores them for the next one."""

from datetime import datetime

import pytest
from playhouse.migrate import SchemaMigrator

from chalicelib.storage import migrations
from tests.support import drop_columns, json_of, send

CREATED = datetime(2026, 12, 1, 10, 0, 0, 123456)
TOTALS = (
    'order_total',
    'subtotal',
    'discount_total',
    'shipping_total',
    'tax_total',
    'prices_include_tax',
    'shipping_address',
    'billing_address',
    'shipping',
    'discount',
)
NEW_TABLES = ('shipping_methods', 'tax_rates', 'discounts', 'discount_uses')
NEW_COLUMNS = {
    table: [name for name, _ in columns] for table, columns in migrations._TOTALS_COLUMNS.items()
}


def shape(database):
    """What the step is responsible for: its tables, and the columns of the
    tables it adds to (sorted: test_migrations.py checks their order)."""
    tables = ('orders', 'order_items', 'products', *NEW_TABLES)
    return {
        table: sorted(tuple(column[:4]) for column in database.get_columns(table))
        for table in tables
    } | {
        'indexes': sorted(
            (index.name, tuple(index.columns), index.unique)
            for index in database.get_indexes('discount_uses')
        )
    }


@pytest.fixture
def models_shape(database):
    return shape(database)


@pytest.fixture
def earlier_schema(client, database, models_shape):
    """The tables as step 7 left them, with a pending and a paid order of
    that release in them (the paid one paid outside, in full)."""
    for table in NEW_TABLES:
        database.execute_sql(f'DROP TABLE {table}')
    for table, names in NEW_COLUMNS.items():
        drop_columns(database, table, names)
    marks = ', '.join([database.param] * 9)
    for order_id, status, paid in ((1, 'pending', '0.00'), (2, 'paid', '109.97')):
        database.execute_sql(
            'INSERT INTO orders (order_id, user_id, user_email, status, order_total, '
            f'created_at, updated_at, version, amount_paid) VALUES ({marks})',
            (order_id, 1, None, status, '109.97', CREATED, CREATED, 1, paid),
        )
        for product_id, quantity, price in ((101, 2, '29.99'), (102, 1, '49.99')):
            database.execute_sql(
                'INSERT INTO order_items (order_id, product_id, quantity, price_at_order) '
                f'VALUES ({database.param}, {database.param}, {database.param}, '
                f'{database.param})',
                (order_id, product_id, quantity, price),
            )
    return database


def run_step(database):
    migrations._addresses_shipping_taxes_discounts(SchemaMigrator.from_database(database))


def rows(database, sql):
    return [tuple(row) for row in database.execute_sql(sql)]


def test_step_makes_what_the_models_make_on_a_new_database(earlier_schema, models_shape):
    run_step(earlier_schema)

    assert shape(earlier_schema) == models_shape


def test_step_run_again_changes_nothing(earlier_schema):
    run_step(earlier_schema)
    first = shape(earlier_schema)

    run_step(earlier_schema)

    assert shape(earlier_schema) == first


def test_older_orders_have_no_discount_shipping_tax_or_address(earlier_schema):
    run_step(earlier_schema)

    found = rows(
        earlier_schema,
        'SELECT order_id, subtotal, discount_total, shipping_total, tax_total, '
        'prices_include_tax, shipping_address, billing_address, shipping_method, '
        'shipping_amount, shipping_tax, shipping_waived, discount_code '
        'FROM orders ORDER BY order_id',
    )
    assert [
        (row[0], row[1], *map(str, row[2:5]), *row[5:9], *map(str, row[9:12]), row[12])
        for row in found
    ] == [
        (n, None, '0.00', '0.00', '0.00', 0, None, None, None, '0.00', '0.00', '0.00', None)
        for n in (1, 2)
    ]
    lines = rows(earlier_schema, 'SELECT discount, tax, tax_rate, tax_class FROM order_items')
    assert [tuple(map(str, line)) for line in lines] == [('0.00', '0.00', '0.0000', 'standard')] * 4
    assert rows(earlier_schema, 'SELECT COUNT(*) FROM discount_uses') == [(0,)]


def test_a_copy_of_the_previous_release_may_still_write_orders_and_lines(earlier_schema):
    run_step(earlier_schema)

    earlier_schema.execute_sql(
        'INSERT INTO orders (order_id, user_id, status, order_total, created_at, updated_at, '
        f'version) VALUES (3, 1, {earlier_schema.param}, {earlier_schema.param}, '
        f'{earlier_schema.param}, {earlier_schema.param}, 1)',
        ('pending', '1.00', CREATED, CREATED),
    )
    earlier_schema.execute_sql(
        'INSERT INTO order_items (order_id, product_id, quantity, price_at_order) '
        "VALUES (3, 7, 1, '1.00')"
    )

    assert [
        tuple(map(str, row))
        for row in rows(
            earlier_schema,
            'SELECT o.subtotal, o.tax_total, i.tax, i.tax_class FROM orders o '
            'JOIN order_items i ON i.order_id = o.order_id WHERE o.order_id = 3',
        )
    ] == [('None', '0.00', '0.00', 'standard')]


def test_older_orders_answer_their_subtotal_as_their_total_and_nothing_beside(
    client, earlier_schema
):
    run_step(earlier_schema)

    order = json_of(send(client, 'GET', '/orders/2'))

    assert {name: order[name] for name in TOTALS} == {
        'order_total': 109.97,
        'subtotal': 109.97,
        'discount_total': 0,
        'shipping_total': 0,
        'tax_total': 0,
        'prices_include_tax': False,
        'shipping_address': None,
        'billing_address': None,
        'shipping': None,
        'discount': None,
    }
    assert [(item['discount'], item['tax'], item['tax_rate']) for item in order['items']] == [
        (0, 0, 0),
        (0, 0, 0),
    ]
