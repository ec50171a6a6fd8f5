"""The schema step of the catalog, currencies and stock (step 6 of
storage/migrations.py) on a database of the release before it: orders are
upgraded in place to DEFAULT_CURRENCY, their lines hold no stock, the catalog
starts empty, and running it again changes nothing; on SQLite and MariaDB.
The tables are taken back to their earlier shape first; the next test's
schema set-up runs the step again and restores them."""

from datetime import datetime

import pytest
from playhouse.migrate import SchemaMigrator

from chalicelib.platform.config import get_settings
from chalicelib.storage import migrations
from tests.support import drop_columns, json_of, send

CREATED = datetime(2026, 11, 25, 10, 0, 0, 123456)
ITEM_COLUMNS = ('sku', 'name', 'holds_stock')


def shape(database):
    """What the step is responsible for: products, and the columns of orders
    and order_items. Sorted, since here the step runs after the later steps'
    columns are already there (test_migrations.py checks the order the steps
    give)."""
    return {
        table: sorted(tuple(column[:4]) for column in database.get_columns(table))
        for table in ('products', 'orders', 'order_items')
    } | {
        'indexes': sorted(
            (index.name, tuple(index.columns), index.unique)
            for index in database.get_indexes('products')
        )
    }


@pytest.fixture
def models_shape(database):
    return shape(database)


@pytest.fixture
def earlier_schema(client, database, models_shape):
    """The tables as step 5 left them, with two orders of that release in them."""
    database.execute_sql('DROP TABLE products')
    drop_columns(database, 'orders', ['currency'])
    drop_columns(database, 'order_items', ITEM_COLUMNS)
    marks = ', '.join([database.param] * 8)
    for order_id, status in ((1, 'pending'), (2, 'paid')):
        database.execute_sql(
            'INSERT INTO orders (order_id, user_id, user_email, status, order_total, '
            f'created_at, updated_at, version) VALUES ({marks})',
            (order_id, 1, None, status, '59.98', CREATED, CREATED, 1),
        )
        database.execute_sql(
            'INSERT INTO order_items (order_id, product_id, quantity, price_at_order) '
            f'VALUES ({database.param}, 101, 2, {database.param})',
            (order_id, '29.99'),
        )
    return database


def run_step(database):
    migrator = SchemaMigrator.from_database(database)
    migrations._catalog_currencies_and_stock(migrator)
    # The later step that adds to the products table the step makes again.
    migrations._addresses_shipping_taxes_discounts(migrator)


def test_step_makes_what_the_models_make_on_a_new_database(earlier_schema, models_shape):
    run_step(earlier_schema)

    assert shape(earlier_schema) == models_shape


def test_older_orders_are_upgraded_in_place_to_the_default_currency(earlier_schema, monkeypatch):
    monkeypatch.setenv('DEFAULT_CURRENCY', 'EUR')
    get_settings.cache_clear()

    run_step(earlier_schema)

    assert [
        tuple(row)
        for row in earlier_schema.execute_sql(
            'SELECT order_id, currency FROM orders ORDER BY order_id'
        )
    ] == [(1, 'EUR'), (2, 'EUR')]


def test_older_lines_have_no_sku_or_name_and_hold_no_stock(earlier_schema):
    run_step(earlier_schema)

    rows = [
        tuple(row)
        for row in earlier_schema.execute_sql(
            'SELECT sku, name, holds_stock FROM order_items ORDER BY order_item_id'
        )
    ]
    assert rows == [(None, None, 0), (None, None, 0)]


def test_the_catalog_starts_empty(earlier_schema):
    run_step(earlier_schema)

    assert earlier_schema.execute_sql('SELECT COUNT(*) FROM products').fetchone()[0] == 0


def test_step_run_again_changes_nothing(earlier_schema):
    run_step(earlier_schema)
    first = shape(earlier_schema)

    run_step(earlier_schema)

    assert shape(earlier_schema) == first


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
        tuple(row)
        for row in earlier_schema.execute_sql(
            'SELECT o.currency, i.holds_stock FROM orders o JOIN order_items i '
            'ON i.order_id = o.order_id WHERE o.order_id = 3'
        )
    ] == [('USD', 0)]


def test_older_orders_answer_their_currency(client, earlier_schema):
    run_step(earlier_schema)

    order = json_of(send(client, 'GET', '/orders/2'))

    assert order['currency'] == 'USD'
    assert order['items'][0]['sku'] is None and order['items'][0]['name'] is None
