"""Bulk-load N orders (3 items each) behind the service's back: multi-row
INSERTs in large batches, one transaction per batch, no LOAD DATA. Orders are
spread over USERS users and the five statuses, newest last (ids ascending),
so the list and count paths show their cost at scale.

The service keeps derived data (order counts) beside the orders; after a
bulk load it must be rebuilt: `rebuild_derived_data()` calls the service's
own `recount()` when chalicelib has one."""
import importlib
import random
import sys
import time
from datetime import datetime, timedelta, timezone

USERS = 10_000
STATUSES = ('pending', 'paid', 'shipped', 'delivered', 'cancelled')
# Cents; a few hundred distinct prices are enough for realistic row sizes.
_PRICES = [99 + 250 * k for k in range(400)]


class ProgressBar:
    """A plain progress bar on stderr (no dependency)."""

    def __init__(self, total, label, stream=None, width=30):
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.monotonic()
        self._last = 0.0

    def update(self, done, force=False):
        now = time.monotonic()
        if not force and now - self._last < 0.5 and done < self.total:
            return
        self._last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        filled = int(self.width * done / self.total)
        bar = '#' * filled + '-' * (self.width - filled)
        self.stream.write(f'\r{self.label} [{bar}] {100 * done / self.total:5.1f}% '
                          f'{done:,}/{self.total:,} {rate:,.0f}/s ETA {eta:,.0f}s ')
        self.stream.flush()

    def close(self, done):
        self.update(done, force=True)
        self.stream.write(f' done in {time.monotonic() - self.start:,.1f}s\n')
        self.stream.flush()


def _money(cents):
    return f'{cents // 100}.{cents % 100:02d}'


def generate(first_order_id, first_item_id, count, start_time, rng):
    """Rows for `count` orders: (orders, items) as tuples of Python values."""
    orders, items = [], []
    item_id = first_item_id
    for order_id in range(first_order_id, first_order_id + count):
        user_id = rng.randrange(USERS) + 1
        total = 0
        for _ in range(3):
            quantity = rng.randrange(1, 4)
            price = _PRICES[rng.randrange(len(_PRICES))]
            total += quantity * price
            items.append((item_id, order_id, rng.randrange(1, 100_000), quantity,
                          _money(price)))
            item_id += 1
        created = (start_time + timedelta(seconds=order_id)).strftime(
            '%Y-%m-%d %H:%M:%S.%f')
        orders.append((order_id, user_id, f'user{user_id}@example.com',
                       STATUSES[rng.randrange(len(STATUSES))], _money(total),
                       created, created, 1))
    return orders, items


def _mysql_values(rows):
    # Values are generated above (ints, fixed-format strings without quotes),
    # so they go into the statement as literals: escaping 4 million rows in
    # Python would cost more than the server's insert.
    return ','.join(
        '(' + ','.join(str(v) if isinstance(v, int) else f"'{v}'" for v in row) + ')'
        for row in rows)


def preload(backend, conn, n, batch=5_000, seed=7, label=None):
    """Insert n orders and 3n items through `conn` (PyMySQL or sqlite3)."""
    if n <= 0:
        return 0.0
    cur = conn.cursor()
    cur.execute('SELECT COALESCE(MAX(order_id), 0) FROM orders')
    first_order = cur.fetchone()[0] + 1
    cur.execute('SELECT COALESCE(MAX(order_item_id), 0) FROM order_items')
    first_item = cur.fetchone()[0] + 1
    start_time = (datetime.now(timezone.utc).replace(tzinfo=None)
                  - timedelta(seconds=first_order + n + 86_400))
    rng = random.Random(seed + first_order)
    bar = ProgressBar(n, label or f'preload {backend}')
    mysql = backend == 'mariadb'
    if mysql:
        # Session-only: this connection's own checks, nothing global.
        cur.execute('SET SESSION unique_checks = 0, foreign_key_checks = 0')
    else:
        cur.execute('PRAGMA synchronous = off')
        cur.execute('PRAGMA foreign_keys = off')
    started = time.monotonic()
    done = 0
    try:
        while done < n:
            count = min(batch, n - done)
            orders, items = generate(first_order + done, first_item + 3 * done, count,
                                     start_time, rng)
            cur.execute('BEGIN')
            if mysql:
                cur.execute('INSERT INTO orders (order_id, user_id, user_email, status, '
                            'order_total, created_at, updated_at, version) VALUES '
                            + _mysql_values(orders))
                cur.execute('INSERT INTO order_items (order_item_id, order_id, product_id, '
                            'quantity, price_at_order) VALUES ' + _mysql_values(items))
            else:
                cur.executemany('INSERT INTO orders (order_id, user_id, user_email, status, '
                                'order_total, created_at, updated_at, version) '
                                'VALUES (?, ?, ?, ?, ?, ?, ?, ?)', orders)
                cur.executemany('INSERT INTO order_items (order_item_id, order_id, '
                                'product_id, quantity, price_at_order) '
                                'VALUES (?, ?, ?, ?, ?)', items)
            cur.execute('COMMIT')
            done += count
            bar.update(done)
    finally:
        if mysql:
            cur.execute('SET SESSION unique_checks = 1, foreign_key_checks = 1')
        else:
            cur.execute('PRAGMA synchronous = normal')
            cur.execute('PRAGMA foreign_keys = on')
    bar.close(done)
    if mysql:
        # Fresh optimizer statistics, as a table that grew over time has.
        cur.execute('ANALYZE TABLE orders, order_items')
        cur.fetchall()
    return time.monotonic() - started


def find_recount():
    """The service's own rebuild of its derived data, if it has one."""
    for name in ('chalicelib.counts', 'chalicelib.counters', 'chalicelib'):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if callable(getattr(module, 'recount', None)):
            return module.recount
    return None


def rebuild_derived_data(log=print):
    """Call chalicelib's recount() (the database must be initialised, e.g. by
    chalicelib.runtime.database()); warn when there is none."""
    recount = find_recount()
    if recount is None:
        log('WARNING: chalicelib has no recount(): if the service keeps derived '
            'data (counters), it is now out of date after the bulk load')
        return None
    started = time.monotonic()
    result = recount()
    log(f'recount ({recount.__module__}.recount) took '
        f'{time.monotonic() - started:.2f}s: {result}')
    return result
