"""The schema, as numbered steps: each applied once, in order, and recorded
in `schema_version`.

MariaDB commits each DDL statement on its own, so a run cannot be rolled
back as a whole: a step's version is recorded right after the step, and
every step first looks at what is already there, so that a copy which died
halfway through a step simply runs it again. Two copies migrating at once
take turns: on MariaDB behind a named lock held by the connection
(GET_LOCK), on SQLite behind the write lock BEGIN IMMEDIATE takes (there
DDL is transactional, and a run commits whole or not at all).

A released step never changes; a change to the schema is a new step, and
the models say what the steps add up to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

import peewee

from chalicelib.core.clock import utcnow
from chalicelib.platform.config import Settings
from chalicelib.platform.logs import log
from chalicelib.storage import connection
from chalicelib.storage.connection import database, is_sqlite
from chalicelib.storage.fields import PreciseDateTimeField, column_default_currency
from chalicelib.storage.models import OrderCount, SchemaVersion

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

# A copy that finds another one migrating waits this long for it.
LOCK_WAIT_SECONDS = 60


class SchemaLocked(RuntimeError):
    pass


# Step 1: the tables as the last release without schema versions made them
# (its models' create_tables), written out so that no later change of the
# models can change them. On such a database every statement finds its
# table or index already there.
_INITIAL_TABLES = {
    'sqlite': [
        'CREATE TABLE IF NOT EXISTS "idempotency_keys" ('
        '"key" VARCHAR(255) NOT NULL PRIMARY KEY, "request_hash" VARCHAR(64) NOT NULL, '
        '"response_body" TEXT, "created_at" DATETIME NOT NULL)',
        'CREATE TABLE IF NOT EXISTS "orders" ('
        '"order_id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "user_id" INTEGER NOT NULL, '
        '"user_email" VARCHAR(254), "status" VARCHAR(50) NOT NULL, '
        '"order_total" TEXT NOT NULL, "created_at" DATETIME NOT NULL, '
        '"updated_at" DATETIME NOT NULL, "version" INTEGER NOT NULL)',
        'CREATE TABLE IF NOT EXISTS "order_counts" ('
        '"status" VARCHAR(50) NOT NULL, "shard" INTEGER NOT NULL, "n" INTEGER NOT NULL, '
        'PRIMARY KEY ("status", "shard"))',
        'CREATE TABLE IF NOT EXISTS "order_items" ('
        '"order_item_id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, '
        '"order_id" INTEGER NOT NULL, "product_id" INTEGER NOT NULL, '
        '"quantity" INTEGER NOT NULL, "price_at_order" TEXT NOT NULL, '
        'FOREIGN KEY ("order_id") REFERENCES "orders" ("order_id") ON DELETE CASCADE)',
        'CREATE TABLE IF NOT EXISTS "outbox" ('
        '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "event_id" VARCHAR(36) NOT NULL, '
        '"event_type" VARCHAR(32) NOT NULL, "order_id" INTEGER NOT NULL, '
        '"subject" VARCHAR(100) NOT NULL, "body" TEXT NOT NULL, '
        '"created_at" DATETIME NOT NULL, "published_at" DATETIME, '
        '"sns_message_id" VARCHAR(100))',
        'CREATE TABLE IF NOT EXISTS "processed_events" ('
        '"event_id" VARCHAR(36) NOT NULL PRIMARY KEY, "processed_at" DATETIME NOT NULL)',
    ],
    'mysql': [
        'CREATE TABLE IF NOT EXISTS `idempotency_keys` ('
        '`key` VARBINARY(255) NOT NULL PRIMARY KEY, `request_hash` VARCHAR(64) NOT NULL, '
        '`response_body` TEXT, `created_at` DATETIME(6) NOT NULL)',
        'CREATE TABLE IF NOT EXISTS `orders` ('
        '`order_id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `user_id` BIGINT NOT NULL, '
        '`user_email` VARCHAR(254), `status` VARCHAR(50) NOT NULL, '
        '`order_total` DECIMAL(10,2) NOT NULL, `created_at` DATETIME(6) NOT NULL, '
        '`updated_at` DATETIME(6) NOT NULL, `version` INTEGER NOT NULL)',
        'CREATE TABLE IF NOT EXISTS `order_counts` ('
        '`status` VARCHAR(50) NOT NULL, `shard` SMALLINT NOT NULL, `n` BIGINT NOT NULL, '
        'PRIMARY KEY (`status`, `shard`))',
        'CREATE TABLE IF NOT EXISTS `order_items` ('
        '`order_item_id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, '
        '`order_id` BIGINT NOT NULL, `product_id` BIGINT NOT NULL, '
        '`quantity` INTEGER NOT NULL, `price_at_order` DECIMAL(10,2) NOT NULL, '
        'FOREIGN KEY (`order_id`) REFERENCES `orders` (`order_id`) ON DELETE CASCADE)',
        'CREATE TABLE IF NOT EXISTS `outbox` ('
        '`id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `event_id` VARCHAR(36) NOT NULL, '
        '`event_type` VARCHAR(32) NOT NULL, `order_id` BIGINT NOT NULL, '
        '`subject` VARCHAR(100) NOT NULL, `body` TEXT NOT NULL, '
        '`created_at` DATETIME(6) NOT NULL, `published_at` DATETIME(6), '
        '`sns_message_id` VARCHAR(100))',
        'CREATE TABLE IF NOT EXISTS `processed_events` ('
        '`event_id` VARCHAR(36) NOT NULL PRIMARY KEY, `processed_at` DATETIME(6) NOT NULL)',
    ],
}
_INITIAL_INDEXES = [  # (table, columns, unique)
    ('idempotency_keys', ('created_at',), False),
    ('orders', ('user_id',), False),
    ('orders', ('status',), False),
    ('orders', ('user_id', 'status'), False),
    ('order_items', ('order_id',), False),
    ('outbox', ('event_id',), True),
    ('outbox', ('published_at',), False),
]


# Step 5's table as it makes it, written out so that no later change of the
# models can change what the step does.
_HISTORY_TABLE = {
    'sqlite': (
        'CREATE TABLE IF NOT EXISTS "order_history" ('
        '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "order_id" INTEGER NOT NULL, '
        '"version" INTEGER NOT NULL, "status" VARCHAR(50) NOT NULL, "at" DATETIME NOT NULL, '
        '"actor_role" VARCHAR(16), "actor_sub" VARCHAR(255), "reason" TEXT, '
        'FOREIGN KEY ("order_id") REFERENCES "orders" ("order_id") ON DELETE CASCADE)'
    ),
    'mysql': (
        'CREATE TABLE IF NOT EXISTS `order_history` ('
        '`id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `order_id` BIGINT NOT NULL, '
        '`version` INTEGER NOT NULL, `status` VARCHAR(50) NOT NULL, '
        '`at` DATETIME(6) NOT NULL, `actor_role` VARCHAR(16), `actor_sub` VARCHAR(255), '
        '`reason` TEXT, '
        'FOREIGN KEY (`order_id`) REFERENCES `orders` (`order_id`) ON DELETE CASCADE)'
    ),
}
_SHIPMENT_COLUMNS = [
    ('carrier', lambda: peewee.CharField(max_length=50, null=True)),
    ('tracking_number', lambda: peewee.CharField(max_length=100, null=True)),
    ('tracking_url', lambda: peewee.CharField(max_length=500, null=True)),
    ('shipped_at', lambda: PreciseDateTimeField(null=True)),
]
_BACKFILL = [
    'UPDATE orders SET shipped_at = updated_at '
    "WHERE order_id BETWEEN {low} AND {high} AND status = 'shipped' AND shipped_at IS NULL",
    'INSERT INTO order_history (order_id, version, status, at) '
    'SELECT o.order_id, o.version, o.status, o.updated_at FROM orders o '
    'WHERE o.order_id BETWEEN {low} AND {high} AND NOT EXISTS ('
    'SELECT 1 FROM order_history h WHERE h.order_id = o.order_id)',
]
# Step 7's columns and tables as it makes them, written out (see step 1).
_PAYMENT_COLUMNS = {
    'sqlite': [
        ('amount_paid', "TEXT NOT NULL DEFAULT '0.00'"),
        ('amount_refunded', "TEXT NOT NULL DEFAULT '0.00'"),
        ('payment_provider', 'VARCHAR(16)'),
        ('payment_reference', 'VARCHAR(255)'),
        ('payment_intent_id', 'VARCHAR(255)'),
    ],
    'mysql': [
        ('amount_paid', "DECIMAL(10,2) NOT NULL DEFAULT '0.00'"),
        ('amount_refunded', "DECIMAL(10,2) NOT NULL DEFAULT '0.00'"),
        ('payment_provider', 'VARCHAR(16)'),
        ('payment_reference', 'VARCHAR(255)'),
        ('payment_intent_id', 'VARCHAR(255)'),
    ],
}
_PAYMENT_TABLES = {
    'sqlite': [
        'CREATE TABLE IF NOT EXISTS "refunds" ('
        '"refund_id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "order_id" INTEGER NOT NULL, '
        '"amount" TEXT NOT NULL, "currency" VARCHAR(3) NOT NULL, '
        '"status" VARCHAR(16) NOT NULL, "reason" TEXT, "items" TEXT, "provider" VARCHAR(16), '
        '"payment_reference" VARCHAR(255), "provider_refund_id" VARCHAR(255), '
        '"late_payment" INTEGER NOT NULL, '
        '"actor_role" VARCHAR(16) NOT NULL, "actor_sub" VARCHAR(255) NOT NULL, '
        '"created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, '
        '"claim_token" VARCHAR(36), "claimed_until" DATETIME, "attempts" INTEGER NOT NULL, '
        '"failure" TEXT, '
        'FOREIGN KEY ("order_id") REFERENCES "orders" ("order_id") ON DELETE CASCADE)',
        'CREATE TABLE IF NOT EXISTS "stripe_events" ('
        '"event_id" VARCHAR(255) NOT NULL PRIMARY KEY, "event_type" VARCHAR(100) NOT NULL, '
        '"processed_at" DATETIME NOT NULL)',
    ],
    'mysql': [
        'CREATE TABLE IF NOT EXISTS `refunds` ('
        '`refund_id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `order_id` BIGINT NOT NULL, '
        '`amount` DECIMAL(10,2) NOT NULL, `currency` VARCHAR(3) NOT NULL, '
        '`status` VARCHAR(16) NOT NULL, `reason` TEXT, `items` TEXT, `provider` VARCHAR(16), '
        '`payment_reference` VARCHAR(255), `provider_refund_id` VARCHAR(255), '
        '`late_payment` BOOL NOT NULL, '
        '`actor_role` VARCHAR(16) NOT NULL, `actor_sub` VARCHAR(255) NOT NULL, '
        '`created_at` DATETIME(6) NOT NULL, `updated_at` DATETIME(6) NOT NULL, '
        '`claim_token` VARCHAR(36), `claimed_until` DATETIME(6), `attempts` INTEGER NOT NULL, '
        '`failure` TEXT, '
        'FOREIGN KEY (`order_id`) REFERENCES `orders` (`order_id`) ON DELETE CASCADE)',
        'CREATE TABLE IF NOT EXISTS `stripe_events` ('
        '`event_id` VARCHAR(255) NOT NULL PRIMARY KEY, `event_type` VARCHAR(100) NOT NULL, '
        '`processed_at` DATETIME(6) NOT NULL)',
    ],
}
# Orders paid before payments were recorded were paid outside the service,
# in full: those paid, shipped or delivered (most shipped orders were paid
# first, and what a cancelled one had been paid cannot be known).
_PAYMENT_BACKFILL = (
    'UPDATE orders SET amount_paid = order_total '
    'WHERE order_id BETWEEN {low} AND {high} '
    "AND status IN ('paid', 'shipped', 'delivered')"
)
# Step 5 fills in older orders this many at a time.
BATCH_ORDERS = 5_000


# Step 6's table and columns as it makes them.
_PRODUCTS_TABLE = {
    'sqlite': (
        'CREATE TABLE IF NOT EXISTS "products" ('
        '"product_id" INTEGER NOT NULL PRIMARY KEY, "sku" VARCHAR(64), '
        '"name" VARCHAR(200) NOT NULL, "unit_price" TEXT NOT NULL, '
        '"currency" VARCHAR(3) NOT NULL, "active" INTEGER NOT NULL, "on_hand" INTEGER, '
        '"reserved" INTEGER NOT NULL, "version" INTEGER NOT NULL, '
        '"updated_at" DATETIME NOT NULL)'
    ),
    'mysql': (
        'CREATE TABLE IF NOT EXISTS `products` ('
        '`product_id` BIGINT NOT NULL PRIMARY KEY, `sku` VARBINARY(256), '
        '`name` VARCHAR(200) NOT NULL, `unit_price` DECIMAL(10,2) NOT NULL, '
        '`currency` VARCHAR(3) NOT NULL, `active` BOOL NOT NULL, `on_hand` BIGINT, '
        '`reserved` BIGINT NOT NULL, `version` INTEGER NOT NULL, '
        '`updated_at` DATETIME(6) NOT NULL)'
    ),
}
_CATALOG_COLUMNS = {  # (table, column, its definition on SQLite, on MariaDB)
    ('orders', 'currency'): ('VARCHAR(3) NOT NULL {default}', 'VARCHAR(3) NOT NULL {default}'),
    ('order_items', 'sku'): ('VARCHAR(64)', 'VARCHAR(64)'),
    ('order_items', 'name'): ('VARCHAR(200)', 'VARCHAR(200)'),
    ('order_items', 'holds_stock'): ('INTEGER NOT NULL DEFAULT 0', 'BOOL NOT NULL DEFAULT 0'),
}

# Step 8's columns and tables as it makes them. Money columns start at 0.00
# and the subtotal at NULL: an order placed before the step (or by a copy of
# the previous release while a deploy rolls out) had no discount, shipping or
# tax, and its subtotal is its total.
_MONEY_COLUMN = ("TEXT NOT NULL DEFAULT '0.00'", "DECIMAL(10,2) NOT NULL DEFAULT '0.00'")
_TAX_CLASS_COLUMN = ("VARCHAR(32) NOT NULL DEFAULT 'standard'",) * 2
_TOTALS_COLUMNS = {  # table: [(column, its definition on SQLite, on MariaDB)]
    'orders': [
        ('subtotal', ('TEXT', 'DECIMAL(10,2)')),
        ('discount_total', _MONEY_COLUMN),
        ('shipping_total', _MONEY_COLUMN),
        ('tax_total', _MONEY_COLUMN),
        ('prices_include_tax', ('INTEGER NOT NULL DEFAULT 0', 'BOOL NOT NULL DEFAULT 0')),
        ('shipping_address', ('TEXT', 'TEXT')),
        ('billing_address', ('TEXT', 'TEXT')),
        ('shipping_method', ('VARCHAR(32)', 'VARCHAR(32)')),
        ('shipping_name', ('VARCHAR(200)', 'VARCHAR(200)')),
        ('shipping_amount', _MONEY_COLUMN),
        ('shipping_tax', _MONEY_COLUMN),
        ('shipping_waived', _MONEY_COLUMN),
        ('discount_code', ('VARCHAR(32)', 'VARCHAR(32)')),
        ('discount_type', ('VARCHAR(16)', 'VARCHAR(16)')),
        ('discount_value', ('TEXT', 'DECIMAL(10,2)')),
    ],
    'order_items': [
        ('discount', _MONEY_COLUMN),
        ('tax', _MONEY_COLUMN),
        ('tax_rate', ("TEXT NOT NULL DEFAULT '0.0000'", "DECIMAL(5,4) NOT NULL DEFAULT '0.0000'")),
        ('tax_class', _TAX_CLASS_COLUMN),
    ],
    'products': [('tax_class', _TAX_CLASS_COLUMN)],
}
_TOTALS_TABLES = {
    'sqlite': [
        'CREATE TABLE IF NOT EXISTS "shipping_methods" ('
        '"code" VARCHAR(32) NOT NULL PRIMARY KEY, "name" VARCHAR(200) NOT NULL, '
        '"price" TEXT NOT NULL, "currency" VARCHAR(3) NOT NULL, "countries" TEXT NOT NULL, '
        '"free_over" TEXT, "active" INTEGER NOT NULL, "version" INTEGER NOT NULL, '
        '"updated_at" DATETIME NOT NULL)',
        'CREATE TABLE IF NOT EXISTS "tax_rates" ('
        '"zone" VARCHAR(6) NOT NULL PRIMARY KEY, "name" VARCHAR(100) NOT NULL, '
        '"rates" TEXT NOT NULL, "shipping" INTEGER NOT NULL, "updated_at" DATETIME NOT NULL)',
        'CREATE TABLE IF NOT EXISTS "discounts" ('
        '"code" VARCHAR(32) NOT NULL PRIMARY KEY, "type" VARCHAR(16) NOT NULL, "value" TEXT, '
        '"currency" VARCHAR(3), "min_subtotal" TEXT, "starts_at" DATETIME, "ends_at" DATETIME, '
        '"usage_limit" INTEGER, "per_customer_limit" INTEGER, "product_ids" TEXT, '
        '"active" INTEGER NOT NULL, "times_used" INTEGER NOT NULL, "version" INTEGER NOT NULL, '
        '"updated_at" DATETIME NOT NULL)',
        'CREATE TABLE IF NOT EXISTS "discount_uses" ('
        '"order_id" INTEGER NOT NULL PRIMARY KEY, "code" VARCHAR(32) NOT NULL, '
        '"user_id" INTEGER NOT NULL)',
    ],
    'mysql': [
        'CREATE TABLE IF NOT EXISTS `shipping_methods` ('
        '`code` VARCHAR(32) NOT NULL PRIMARY KEY, `name` VARCHAR(200) NOT NULL, '
        '`price` DECIMAL(10,2) NOT NULL, `currency` VARCHAR(3) NOT NULL, '
        '`countries` TEXT NOT NULL, `free_over` DECIMAL(10,2), `active` BOOL NOT NULL, '
        '`version` INTEGER NOT NULL, `updated_at` DATETIME(6) NOT NULL)',
        'CREATE TABLE IF NOT EXISTS `tax_rates` ('
        '`zone` VARCHAR(6) NOT NULL PRIMARY KEY, `name` VARCHAR(100) NOT NULL, '
        '`rates` TEXT NOT NULL, `shipping` BOOL NOT NULL, `updated_at` DATETIME(6) NOT NULL)',
        'CREATE TABLE IF NOT EXISTS `discounts` ('
        '`code` VARCHAR(32) NOT NULL PRIMARY KEY, `type` VARCHAR(16) NOT NULL, '
        '`value` DECIMAL(10,2), `currency` VARCHAR(3), `min_subtotal` DECIMAL(10,2), '
        '`starts_at` DATETIME(6), `ends_at` DATETIME(6), `usage_limit` INTEGER, '
        '`per_customer_limit` INTEGER, `product_ids` TEXT, `active` BOOL NOT NULL, '
        '`times_used` INTEGER NOT NULL, `version` INTEGER NOT NULL, '
        '`updated_at` DATETIME(6) NOT NULL)',
        'CREATE TABLE IF NOT EXISTS `discount_uses` ('
        '`order_id` BIGINT NOT NULL PRIMARY KEY, `code` VARCHAR(32) NOT NULL, '
        '`user_id` BIGINT NOT NULL)',
    ],
}


# The intents to cancel at Stripe, as the step makes them.
_INTENT_CANCELLATIONS_TABLE = {
    'sqlite': (
        'CREATE TABLE IF NOT EXISTS "intent_cancellations" ('
        '"cancellation_id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, '
        '"payment_intent_id" VARCHAR(255) NOT NULL, "order_id" INTEGER NOT NULL, '
        '"created_at" DATETIME NOT NULL, "claimed_until" DATETIME NOT NULL)'
    ),
    'mysql': (
        'CREATE TABLE IF NOT EXISTS `intent_cancellations` ('
        '`cancellation_id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, '
        '`payment_intent_id` VARCHAR(255) NOT NULL, `order_id` BIGINT NOT NULL, '
        '`created_at` DATETIME(6) NOT NULL, `claimed_until` DATETIME(6) NOT NULL)'
    ),
}


def _initial_schema(migrator: SchemaMigrator) -> None:
    for statement in _INITIAL_TABLES['sqlite' if is_sqlite() else 'mysql']:
        database.execute_sql(statement)
    for table, columns, unique in _INITIAL_INDEXES:
        _add_index(migrator, table, columns, unique)


def _idempotency_keys_know_their_order(migrator: SchemaMigrator) -> None:
    """A deleted order takes its key with it, found by this column."""
    _add_column(migrator, 'idempotency_keys', 'order_id', peewee.BigIntegerField(null=True))
    _add_index(migrator, 'idempotency_keys', ('order_id',))
    # Keys completed before this step: their stored answer names the order.
    database.execute_sql(
        "UPDATE idempotency_keys SET order_id = JSON_EXTRACT(response_body, '$.order_id') "
        'WHERE order_id IS NULL AND response_body IS NOT NULL'
    )


def _processed_events_by_time(migrator: SchemaMigrator) -> None:
    """Housekeeping finds the old event ids without reading them all."""
    _add_index(migrator, 'processed_events', ('processed_at',))


def _outbox_rows_say_when_the_relay_may_take_them(migrator: SchemaMigrator) -> None:
    """The relay takes at once what a request gave up on, instead of waiting
    a minute for every row. Rows pending at the upgrade, and those a copy of
    the previous release writes while a deploy rolls out, have none: the
    relay takes them at once (at worst one is published twice, which at
    least once allows)."""
    _add_column(migrator, 'outbox', 'relay_after', PreciseDateTimeField(null=True))


def _shipping_cancellation_history(migrator: SchemaMigrator) -> None:
    """Shipping details on the order row (an order ships once, and every
    answer shows its shipment: no join on the read paths) and order_history,
    one row per version, deleted with its order. Older orders get what can be
    known of them: a shipped one shipped at its last change; each one history
    entry for the version it is at, with no author (`by` is null). Both in
    batches of order ids, skipping what an interrupted run already wrote."""
    for name, field in _SHIPMENT_COLUMNS:
        _add_column(migrator, 'orders', name, field())
    database.execute_sql(_HISTORY_TABLE['sqlite' if is_sqlite() else 'mysql'])
    _add_index(migrator, 'order_history', ('order_id', 'version'), unique=True)
    low, high = database.execute_sql('SELECT MIN(order_id), MAX(order_id) FROM orders').fetchone()
    while low is not None and low <= high:
        # Integers of our own making: literal, so each batch is one plain statement.
        bounds = {'low': int(low), 'high': int(low) + BATCH_ORDERS - 1}
        for statement in _BACKFILL:
            database.execute_sql(statement.format(**bounds))
        low += BATCH_ORDERS


def _catalog_currencies_and_stock(migrator: SchemaMigrator) -> None:
    """The catalog (products), the order's currency, the SKU and name each
    line was placed with, and whether a line holds a reservation. Every
    column arrives with its value for the rows already there, in the one
    ALTER that adds it (on MariaDB 10.3+ an instant, metadata-only change; no
    batches, no rewrite of the orders table): older orders are in
    DEFAULT_CURRENCY, their lines have no SKU or name and hold no stock (none
    was ever reserved for them). The catalog starts empty: a demo catalog is
    a local matter (make run), never a migration's."""
    sqlite = is_sqlite()
    database.execute_sql(_PRODUCTS_TABLE['sqlite' if sqlite else 'mysql'])
    _add_index(migrator, 'products', ('sku',), unique=True)
    quote = '"' if sqlite else '`'
    for (table, name), definitions in _CATALOG_COLUMNS.items():
        if name in {column.name for column in database.get_columns(table)}:
            continue
        definition = definitions[0 if sqlite else 1].format(default=column_default_currency())
        database.execute_sql(
            f'ALTER TABLE {quote}{table}{quote} ADD COLUMN {quote}{name}{quote} {definition}'
        )


def _payments_and_refunds(migrator: SchemaMigrator) -> None:
    """What each order was paid and refunded, through which provider; the
    refunds; the Stripe events handled. Orders paid, shipped or delivered
    before this step were paid outside the service, in full (filled in by
    batches, like step 5)."""
    kind = 'sqlite' if is_sqlite() else 'mysql'
    present = {column.name for column in database.get_columns('orders')}
    for name, definition in _PAYMENT_COLUMNS[kind]:
        if name not in present:
            database.execute_sql(f'ALTER TABLE orders ADD COLUMN {name} {definition}')
    for statement in _PAYMENT_TABLES[kind]:
        database.execute_sql(statement)
    _add_index(migrator, 'refunds', ('order_id',))
    _add_index(migrator, 'refunds', ('status', 'claimed_until'))
    _add_index(migrator, 'stripe_events', ('processed_at',))
    low, high = database.execute_sql('SELECT MIN(order_id), MAX(order_id) FROM orders').fetchone()
    while low is not None and low <= high:
        database.execute_sql(
            _PAYMENT_BACKFILL.format(low=int(low), high=int(low) + BATCH_ORDERS - 1)
        )
        low += BATCH_ORDERS


def _addresses_shipping_taxes_discounts(migrator: SchemaMigrator) -> None:
    """The order's totals beside its lines (subtotal, discount, shipping,
    tax), its addresses, shipping method and discount code; each line's
    discount, tax, rate and tax class; the product's tax class; shipping
    methods, tax rates, discount codes and their uses. Like step 6, every
    column arrives with its value for the rows already there, in the ALTER
    that adds it (one per table on MariaDB: an instant change, no rewrite):
    no discount, shipping or tax, the subtotal NULL (read as the total), the
    standard tax class."""
    sqlite = is_sqlite()
    for table, columns in _TOTALS_COLUMNS.items():
        present = {column.name for column in database.get_columns(table)}
        missing = [
            (name, definitions[0 if sqlite else 1])
            for name, definitions in columns
            if name not in present
        ]
        if sqlite:
            for name, definition in missing:
                database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {definition}')
        elif missing:
            database.execute_sql(
                f'ALTER TABLE `{table}` '
                + ', '.join(f'ADD COLUMN `{name}` {definition}' for name, definition in missing)
            )
    for statement in _TOTALS_TABLES['sqlite' if sqlite else 'mysql']:
        database.execute_sql(statement)
    _add_index(migrator, 'discount_uses', ('code', 'user_id'))


_CUSTOMER_LOCKS = {
    'sqlite': (
        'CREATE TABLE IF NOT EXISTS "customer_locks" ("user_id" INTEGER NOT NULL PRIMARY KEY)'
    ),
    'mysql': 'CREATE TABLE IF NOT EXISTS `customer_locks` (`user_id` BIGINT NOT NULL PRIMARY KEY)',
}


def _customer_locks(migrator: SchemaMigrator) -> None:
    """A row per customer that their order creates lock, so that
    MAX_PENDING_ORDERS_PER_CUSTOMER holds however many copies create for one
    customer at once. Filled as customers order: nothing to backfill."""
    database.execute_sql(_CUSTOMER_LOCKS['sqlite' if is_sqlite() else 'mysql'])


def _refunds_of_shipping(migrator: SchemaMigrator) -> None:
    """Whether a refund gave back the order's shipping, so that it goes back
    once per order. Older refunds gave back none: the default."""
    if 'shipping' not in {column.name for column in database.get_columns('refunds')}:
        database.execute_sql(
            'ALTER TABLE refunds ADD COLUMN shipping '
            + ('INTEGER NOT NULL DEFAULT 0' if is_sqlite() else 'BOOL NOT NULL DEFAULT 0')
        )


def _intent_cancellations(migrator: SchemaMigrator) -> None:
    """The PaymentIntents a cancelled, expired or deleted order leaves to
    cancel at Stripe. A new table: nothing to fill in (orders cancelled
    before it keep their intents open; a payment on one is refunded as a
    late payment)."""
    database.execute_sql(_INTENT_CANCELLATIONS_TABLE['sqlite' if is_sqlite() else 'mysql'])
    _add_index(migrator, 'intent_cancellations', ('claimed_until',))


# Step 12's tables as it makes them.
_RETURN_TABLES = {
    'sqlite': [
        'CREATE TABLE IF NOT EXISTS "returns" ('
        '"return_id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "order_id" INTEGER NOT NULL, '
        '"status" VARCHAR(16) NOT NULL, "version" INTEGER NOT NULL, "note" TEXT, '
        '"deduction" TEXT NOT NULL, "deduction_reason" TEXT, "refund_id" INTEGER, '
        '"actor_role" VARCHAR(16) NOT NULL, "actor_sub" VARCHAR(255) NOT NULL, '
        '"created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, '
        'FOREIGN KEY ("order_id") REFERENCES "orders" ("order_id") ON DELETE CASCADE)',
        'CREATE TABLE IF NOT EXISTS "return_items" ('
        '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "return_id" INTEGER NOT NULL, '
        '"order_item_id" INTEGER NOT NULL, "quantity" INTEGER NOT NULL, "reason" TEXT, '
        '"received" INTEGER, "restocked" INTEGER, '
        'FOREIGN KEY ("return_id") REFERENCES "returns" ("return_id") ON DELETE CASCADE)',
        'CREATE TABLE IF NOT EXISTS "return_history" ('
        '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "return_id" INTEGER NOT NULL, '
        '"order_id" INTEGER NOT NULL, "order_version" INTEGER NOT NULL, '
        '"version" INTEGER NOT NULL, "status" VARCHAR(16) NOT NULL, "at" DATETIME NOT NULL, '
        '"actor_role" VARCHAR(16) NOT NULL, "actor_sub" VARCHAR(255) NOT NULL, "reason" TEXT, '
        'FOREIGN KEY ("return_id") REFERENCES "returns" ("return_id") ON DELETE CASCADE, '
        'FOREIGN KEY ("order_id") REFERENCES "orders" ("order_id") ON DELETE CASCADE)',
    ],
    'mysql': [
        'CREATE TABLE IF NOT EXISTS `returns` ('
        '`return_id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `order_id` BIGINT NOT NULL, '
        '`status` VARCHAR(16) NOT NULL, `version` INTEGER NOT NULL, `note` TEXT, '
        '`deduction` DECIMAL(10,2) NOT NULL, `deduction_reason` TEXT, `refund_id` BIGINT, '
        '`actor_role` VARCHAR(16) NOT NULL, `actor_sub` VARCHAR(255) NOT NULL, '
        '`created_at` DATETIME(6) NOT NULL, `updated_at` DATETIME(6) NOT NULL, '
        'FOREIGN KEY (`order_id`) REFERENCES `orders` (`order_id`) ON DELETE CASCADE)',
        'CREATE TABLE IF NOT EXISTS `return_items` ('
        '`id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `return_id` BIGINT NOT NULL, '
        '`order_item_id` BIGINT NOT NULL, `quantity` INTEGER NOT NULL, `reason` TEXT, '
        '`received` INTEGER, `restocked` BOOL, '
        'FOREIGN KEY (`return_id`) REFERENCES `returns` (`return_id`) ON DELETE CASCADE)',
        'CREATE TABLE IF NOT EXISTS `return_history` ('
        '`id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `return_id` BIGINT NOT NULL, '
        '`order_id` BIGINT NOT NULL, `order_version` INTEGER NOT NULL, '
        '`version` INTEGER NOT NULL, `status` VARCHAR(16) NOT NULL, `at` DATETIME(6) NOT NULL, '
        '`actor_role` VARCHAR(16) NOT NULL, `actor_sub` VARCHAR(255) NOT NULL, `reason` TEXT, '
        'FOREIGN KEY (`return_id`) REFERENCES `returns` (`return_id`) ON DELETE CASCADE, '
        'FOREIGN KEY (`order_id`) REFERENCES `orders` (`order_id`) ON DELETE CASCADE)',
    ],
}


def _returns(migrator: SchemaMigrator) -> None:
    """Returns, their lines and their history (entries of their order's
    history that leave the order's version alone). New tables: nothing to
    fill in, and the release before never reads them."""
    for statement in _RETURN_TABLES['sqlite' if is_sqlite() else 'mysql']:
        database.execute_sql(statement)
    _add_index(migrator, 'returns', ('order_id',))
    _add_index(migrator, 'return_items', ('return_id',))
    _add_index(migrator, 'return_history', ('order_id',))
    _add_index(migrator, 'return_history', ('return_id', 'version'), unique=True)


STEPS = [
    (1, 'initial schema', _initial_schema),
    (2, 'idempotency keys know their order', _idempotency_keys_know_their_order),
    (3, 'processed events by time', _processed_events_by_time),
    (
        4,
        'outbox rows say when the relay may take them',
        _outbox_rows_say_when_the_relay_may_take_them,
    ),
    (5, 'shipping details, cancellation reasons and order history', _shipping_cancellation_history),
    (6, 'catalog, order currencies and stock reservations', _catalog_currencies_and_stock),
    (7, 'payments and refunds', _payments_and_refunds),
    (8, 'addresses, shipping, taxes and discounts', _addresses_shipping_taxes_discounts),
    (9, 'customer locks for the pending orders limit', _customer_locks),
    (10, 'refunds say whether they gave back the shipping', _refunds_of_shipping),
    (11, 'payment intents to cancel', _intent_cancellations),
    (12, 'returns', _returns),
]
LATEST = STEPS[-1][0]


def _add_column(migrator: SchemaMigrator, table: str, name: str, field: peewee.Field) -> None:
    """Add a nullable column unless it exists (MySQL 8 has no ADD COLUMN IF NOT EXISTS)."""
    if name not in {column.name for column in database.get_columns(table)}:
        migrator.add_column(table, name, field).run()


def _add_index(
    migrator: SchemaMigrator, table: str, columns: tuple[str, ...], unique: bool = False
) -> None:
    """Create the index peewee would name for these columns, unless it exists
    (MySQL 8 has no CREATE INDEX IF NOT EXISTS)."""
    from playhouse.migrate import make_index_name

    if make_index_name(table, columns) not in {index.name for index in database.get_indexes(table)}:
        migrator.add_index(table, columns, unique).run()


def version() -> int:
    """The last step this database has had; 0 before any."""
    if not SchemaVersion.table_exists():
        return 0
    return SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0


class Migrated(TypedDict):
    version: int  # the schema's version now
    applied: list[int]  # the steps this run applied


def upgrade(seed_counts: Callable[[], object], clock: Callable[[], datetime] = utcnow) -> list[int]:
    """Apply the steps the database lacks, in order; the versions applied.
    `seed_counts` writes the count rows of a database that has none (the
    order domain knows the statuses; storage does not)."""
    if version() >= LATEST:
        return []
    applied = []
    with _one_copy_at_a_time():
        SchemaVersion.create_table(safe=True)
        done = {row.version for row in SchemaVersion.select(SchemaVersion.version)}
        # Imported here: an up-to-date database (every warm start) never needs it.
        from playhouse.migrate import SchemaMigrator

        migrator = SchemaMigrator.from_database(database)
        for number, name, step in STEPS:
            if number in done:
                continue
            log.info('Schema step %s: %s', number, name)
            step(migrator)
            SchemaVersion.create(version=number, name=name, applied_at=clock())
            applied.append(number)
        # A new database starts with its count rows, every status at zero.
        if not OrderCount.select().exists():
            seed_counts()
    return applied


@contextmanager
def _one_copy_at_a_time() -> Iterator[None]:
    if is_sqlite():
        with database.atomic():
            yield
        return
    # Named after the database: the lock is server-wide, and one server may
    # hold the databases of several stages (or of several test runs).
    lock_name = "CONCAT('orders_schema.', DATABASE())"
    taken = database.execute_sql(
        f'SELECT GET_LOCK({lock_name}, %s)', (LOCK_WAIT_SECONDS,)
    ).fetchone()[0]
    if taken != 1:
        raise SchemaLocked(f'another copy has been migrating for over {LOCK_WAIT_SECONDS} s')
    try:
        yield
    finally:
        database.execute_sql(f'SELECT RELEASE_LOCK({lock_name})')


def migrate(settings: Settings, seed_counts: Callable[[], object]) -> Migrated:
    """Upgrade the schema of the database `settings` name:
    {'version': the version it is at now, 'applied': the steps this run applied}."""
    connection.open_database(settings)
    connection.connect()
    try:
        applied = upgrade(seed_counts)
        return {'version': version(), 'applied': applied}
    finally:
        connection.database.close()
