"""Bulk-load N orders (3 items each) behind the service's back, then rebuild
the order counts with the service's own recount(): multi-row INSERTs of 5,000
orders, one transaction each. Orders are spread over 10,000 users and the five
statuses, newest last, so the list and count paths show their cost at scale."""

import random
import sys
import time
from datetime import timedelta

from chalicelib.core.clock import utcnow
from chalicelib.orders import counts
from chalicelib.orders.lifecycle import STATUSES
from chalicelib.storage.models import Order, OrderItem

USERS = 10_000
BATCH = 5_000


def _columns(model):
    return ', '.join(field.column_name for field in model._meta.sorted_fields)


def _rows(first_order, first_item, count, start, rng):
    """(orders, items) as tuples in the models' column order."""
    orders, items = [], []
    for order_id in range(first_order, first_order + count):
        total = 0
        for _ in range(3):
            quantity, cents = rng.randrange(1, 4), 99 + 250 * rng.randrange(400)
            total += quantity * cents
            items.append(
                (
                    first_item + len(items),
                    order_id,
                    rng.randrange(1, 100_000),
                    quantity,
                    f'{cents // 100}.{cents % 100:02d}',
                )
            )
        user_id = rng.randrange(USERS) + 1
        moment = (start + timedelta(seconds=order_id)).strftime('%Y-%m-%d %H:%M:%S.%f')
        orders.append(
            (
                order_id,
                user_id,
                f'user{user_id}@example.com',
                rng.choice(STATUSES),
                f'{total // 100}.{total % 100:02d}',
                moment,
                moment,
                1,
            )
        )
    return orders, items


def _literals(rows):
    # The values are made above (numbers, fixed-format strings without quotes):
    # as literals, MariaDB parses them faster than PyMySQL escapes 4M of them.
    return ','.join(
        '(' + ','.join(str(v) if isinstance(v, int) else f"'{v}'" for v in row) + ')'
        for row in rows
    )


def preload(conn, sqlite, n):
    """Insert n orders and 3n items through the bare driver connection; seconds."""
    cur = conn.cursor()
    cur.execute('SELECT COALESCE(MAX(order_id), 0) FROM orders')
    first_order = cur.fetchone()[0] + 1
    cur.execute('SELECT COALESCE(MAX(order_item_id), 0) FROM order_items')
    first_item = cur.fetchone()[0] + 1
    start = utcnow() - timedelta(seconds=first_order + n + 86_400)
    rng = random.Random(first_order)
    checks = (
        'PRAGMA foreign_keys = {}'
        if sqlite
        else 'SET SESSION unique_checks = {0}, foreign_key_checks = {0}'
    )
    cur.execute(checks.format(0))
    started = time.monotonic()
    try:
        for done in range(0, n, BATCH):
            count = min(BATCH, n - done)
            orders, items = _rows(first_order + done, first_item + 3 * done, count, start, rng)
            cur.execute('BEGIN')
            for model, rows in ((Order, orders), (OrderItem, items)):
                sql = f'INSERT INTO {model._meta.table_name} ({_columns(model)}) VALUES '
                if sqlite:
                    cur.executemany(sql + '(' + ', '.join('?' * len(rows[0])) + ')', rows)
                else:
                    cur.execute(sql + _literals(rows))
            cur.execute('COMMIT')
            sys.stderr.write(
                f'\rpreload: {done + count:,} of {n:,} orders ({time.monotonic() - started:.0f} s)'
            )
    finally:
        cur.execute(checks.format(1))
    sys.stderr.write('\n')
    if not sqlite:
        cur.execute('ANALYZE TABLE orders, order_items')  # statistics as a grown table has
        cur.fetchall()
    seconds = time.monotonic() - started
    counts.recount()  # the service's own rebuild of the counts behind list totals
    return seconds
