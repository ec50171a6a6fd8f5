"""The schema step that shipping details, cancellation reasons and order
history need, written as one numbered step of storage/migrations.py takes
it: a function of the migrator that first looks at what is already there,
so that a run which died halfway through simply runs it again.

It is meant to be step 5, the next after "outbox rows say when the relay
may take them" (step 4); until it is wired into STEPS there,
`create_tables` makes the same columns and table from the models on a new
database. What it adds:

- orders.carrier, orders.tracking_number, orders.tracking_url,
  orders.shipped_at: nullable, set by the move to shipped. An order ships
  once, and every order answer shows its shipment, so they sit on the order
  row (no join on the read paths) rather than in a table of their own.
- order_history: one row per version of an order, unique on (order_id,
  version), deleted with its order.

Orders older than the step get what can be known of them: a shipped order
shipped at its last change (shipped_at = updated_at); a delivered one's
shipping time is unknown and stays NULL. Each order gets one history entry
for the version it is at, its status and when it got there, with no author
(`by` is null in the API). Both run in batches of order ids, so no statement
holds more than a batch of rows; the rows an earlier, interrupted run
already wrote are skipped.
"""
import peewee
from playhouse.migrate import make_index_name

from chalicelib.storage.fields import PreciseDateTimeField

STEP = 5
NAME = 'shipping details, cancellation reasons and order history'
BATCH_ORDERS = 5_000

# The table as this step makes it, written out so that no later change of
# the models can change what the step does.
_HISTORY_TABLE = {
    'sqlite': (
        'CREATE TABLE IF NOT EXISTS "order_history" ('
        '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "order_id" INTEGER NOT NULL, '
        '"version" INTEGER NOT NULL, "status" VARCHAR(50) NOT NULL, "at" DATETIME NOT NULL, '
        '"actor_role" VARCHAR(16), "actor_sub" VARCHAR(255), "reason" TEXT, '
        'FOREIGN KEY ("order_id") REFERENCES "orders" ("order_id") ON DELETE CASCADE)'),
    'mysql': (
        'CREATE TABLE IF NOT EXISTS `order_history` ('
        '`id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `order_id` BIGINT NOT NULL, '
        '`version` INTEGER NOT NULL, `status` VARCHAR(50) NOT NULL, '
        '`at` DATETIME(6) NOT NULL, `actor_role` VARCHAR(16), `actor_sub` VARCHAR(255), '
        '`reason` TEXT, '
        'FOREIGN KEY (`order_id`) REFERENCES `orders` (`order_id`) ON DELETE CASCADE)'),
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


def add_shipping_cancellation_history(migrator, database=None):
    """Step 5 (see the module docstring); `database` defaults to the migrator's."""
    database = database or migrator.database
    sqlite = isinstance(database, peewee.SqliteDatabase)
    columns = {column.name for column in database.get_columns('orders')}
    for name, field in _SHIPMENT_COLUMNS:
        if name not in columns:
            migrator.add_column('orders', name, field()).run()
    database.execute_sql(_HISTORY_TABLE['sqlite' if sqlite else 'mysql'])
    index = make_index_name('order_history', ('order_id', 'version'))
    if index not in {found.name for found in database.get_indexes('order_history')}:
        migrator.add_index('order_history', ('order_id', 'version'), True).run()
    _backfill(database)


def _backfill(database):
    low, high = database.execute_sql(
        'SELECT MIN(order_id), MAX(order_id) FROM orders').fetchone()
    if low is None:
        return
    while low <= high:
        # Integers of our own making: literal, so each batch is one plain statement.
        bounds = {'low': int(low), 'high': int(low) + BATCH_ORDERS - 1}
        for statement in _BACKFILL:
            database.execute_sql(statement.format(**bounds))
        low += BATCH_ORDERS
