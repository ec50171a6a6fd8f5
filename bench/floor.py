"""The floor: each operation as the bare SQL statements the service issues
for it (read from chalicelib/orders.py, counts.py, events.py, publisher.py),
through the same driver and connection settings, with no ORM and no
framework. Only the database work is left, so service / floor is what the
framework, validation and serialisation cost on top of it.

When the service changes its statements, change them here too: the
benchmark counts the statements each side issues and flags a mismatch."""
import re
import sqlite3
import uuid
from datetime import datetime, timezone

ORDER_COLUMNS = ('order_id, user_id, user_email, status, order_total, created_at, '
                 'updated_at, version')
ITEM_COLUMNS = 'order_item_id, order_id, product_id, quantity, price_at_order'
SUBJECTS = {'order_created': 'Order Created', 'order_updated': 'Order Updated',
            'order_shipped': 'Order Shipped', 'order_deleted': 'Order Deleted'}
MESSAGE_ID = '00000000-0000-4000-8000-000000000000'
# The outbox body is JSON the service builds; its size is what matters here.
EVENT_BODY = ('{"event_id":"%s","event_type":"%s","order_id":%d,"user_id":%d,'
              '"user_email":%s,"status":"%s","order_total":%s,'
              '"timestamp":"2026-11-25T10:00:00.000000Z"}')


_STATEMENT = re.compile(
    r'^\s*(SELECT\b.*?\bFROM|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[`"]?(\w+)',
    re.IGNORECASE | re.DOTALL)


def statement_shape(sql):
    """'SELECT orders', 'UPDATE order_counts', ...: what a statement does to
    which table, to compare the service's statements with the floor's."""
    match = _STATEMENT.match(sql)
    if not match:
        return sql.split(None, 1)[0].upper()
    verb = match.group(1).split(None, 1)[0].upper()
    lock = ' FOR UPDATE' if re.search(r'\bFOR\s+UPDATE\b', sql, re.IGNORECASE) else ''
    return f'{verb} {match.group(2)}{lock}'


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def connect_mysql(host, port, user, password, database):
    """As peewee's MySQLDatabase connects (chalicelib/db.py): autocommit,
    utf8mb4, the same timeouts."""
    import pymysql
    return pymysql.connect(host=host, port=port, user=user, password=password,
                           database=database, autocommit=True, charset='utf8mb4',
                           connect_timeout=3, read_timeout=5, write_timeout=5)


def connect_sqlite(path):
    """As peewee's SqliteDatabase connects (chalicelib/db.py): autocommit
    (isolation_level=None), WAL, foreign keys on."""
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    for pragma in ('journal_mode = wal', 'foreign_keys = 1', 'busy_timeout = 5000',
                   'synchronous = normal'):
        conn.execute(f'PRAGMA {pragma}')
    return conn


class CountingCursor:
    """Wraps a cursor to count the statements a floor operation issues
    (BEGIN/COMMIT aside, as peewee's query hooks do not see them either)."""

    def __init__(self, cursor):
        self._cursor = cursor
        self.statements = []

    def execute(self, sql, params=()):
        if sql.split(None, 1)[0].upper() not in ('BEGIN', 'COMMIT', 'ROLLBACK'):
            self.statements.append(sql)
        return self._cursor.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class Floor:
    def __init__(self, backend, conn):
        self.backend = backend
        self.conn = conn
        self.cur = conn.cursor()
        mysql = backend == 'mariadb'
        p = '%s' if mysql else '?'
        self.p = p
        self.begin_write = 'BEGIN' if mysql else 'BEGIN IMMEDIATE'
        lock = ' FOR UPDATE' if mysql else ''
        self.sql_insert_order = (
            'INSERT INTO orders (user_id, user_email, status, order_total, created_at, '
            f'updated_at, version) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})')
        self.sql_select_order = f'SELECT {ORDER_COLUMNS} FROM orders WHERE (order_id = {p})'
        self.sql_lock_order = (f'SELECT {ORDER_COLUMNS} FROM orders WHERE (order_id = {p}) '
                               f'LIMIT {p} OFFSET {p}{lock}')
        self.sql_insert_outbox = (
            'INSERT INTO outbox (event_id, event_type, order_id, subject, body, '
            f'created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p})')
        self.sql_mark_published = (
            f'UPDATE outbox SET published_at = {p}, sns_message_id = CASE id WHEN {p} '
            f'THEN {p} END WHERE (id IN ({p}) AND published_at IS NULL)')
        self.sql_count_one = (
            f'UPDATE order_counts SET n = (n + CASE status WHEN {p} THEN {p} ELSE {p} '
            f'END) WHERE ((shard = {p}) AND (status IN ({p})))')
        self.sql_count_two = (
            f'UPDATE order_counts SET n = (n + CASE status WHEN {p} THEN {p} WHEN {p} '
            f'THEN {p} ELSE {p} END) WHERE ((shard = {p}) AND (status IN ({p}, {p})))')
        self.sql_update_status = (
            f'UPDATE orders SET status = {p}, updated_at = {p}, version = {p} '
            f'WHERE ((order_id = {p}) AND (version = {p}))')
        self.sql_delete_order = f'DELETE FROM orders WHERE (order_id = {p})'
        self.sql_page = (f'SELECT {ORDER_COLUMNS} FROM orders ORDER BY order_id DESC '
                         f'LIMIT {p} OFFSET {p}')
        self.sql_after = (f'SELECT {ORDER_COLUMNS} FROM orders WHERE (order_id < {p}) '
                          f'ORDER BY order_id DESC LIMIT {p}')
        self.sql_user_page = (f'SELECT {ORDER_COLUMNS} FROM orders WHERE (user_id = {p}) '
                              f'ORDER BY order_id DESC LIMIT {p} OFFSET {p}')
        self.sql_user_count = (f'SELECT COUNT(order_id) FROM orders WHERE (user_id = {p}) '
                               f'LIMIT {p}')
        self.sql_total = f'SELECT SUM(n) FROM order_counts LIMIT {p}'
        self._items_sql = {}

    # -- pieces ---------------------------------------------------------
    def _items(self, order_ids):
        sql = self._items_sql.get(len(order_ids))
        if sql is None:
            marks = ', '.join([self.p] * len(order_ids))
            sql = (f'SELECT {ITEM_COLUMNS} FROM order_items WHERE (order_id IN ({marks})) '
                   'ORDER BY order_item_id')
            self._items_sql[len(order_ids)] = sql
        self.cur.execute(sql, order_ids)
        return self.cur.fetchall()

    def _outbox(self, event_type, order_id, user_id, email, status, total, now):
        event_id = str(uuid.uuid4())
        body = EVENT_BODY % (event_id, event_type, order_id, user_id,
                             f'"{email}"' if email else 'null', status, total)
        self.cur.execute(self.sql_insert_outbox, (event_id, event_type, order_id,
                                                  SUBJECTS[event_type], body, now))
        return self.cur.lastrowid

    def _mark_published(self, outbox_id, now):
        self.cur.execute(self.sql_mark_published, (now, outbox_id, MESSAGE_ID, outbox_id))

    def _transaction(self, work):
        cur = self.cur
        cur.execute(self.begin_write)
        try:
            result = work()
        except BaseException:
            cur.execute('ROLLBACK')
            raise
        cur.execute('COMMIT')
        return result

    # -- operations -----------------------------------------------------
    def health(self):
        self.cur.execute('SELECT 1')
        return self.cur.fetchall()

    def create(self, user_id, email, items, total, shard):
        """items: [(product_id, quantity, price_str)]; total: str."""
        cur = self.cur
        now = utcnow()

        def work():
            cur.execute(self.sql_insert_order,
                        (user_id, email, 'pending', total, now, now, 1))
            order_id = cur.lastrowid
            params = []
            for product_id, quantity, price in items:
                params += (order_id, product_id, quantity, price)
            marks = ', '.join([f'({self.p}, {self.p}, {self.p}, {self.p})'] * len(items))
            cur.execute('INSERT INTO order_items (order_id, product_id, quantity, '
                        f'price_at_order) VALUES {marks}', params)
            self._items([order_id])
            outbox_id = self._outbox('order_created', order_id, user_id, email,
                                     'pending', total, now)
            cur.execute(self.sql_count_one, ('pending', 1, 0, shard, 'pending'))
            return order_id, outbox_id

        order_id, outbox_id = self._transaction(work)
        self._mark_published(outbox_id, now)
        return order_id

    def get(self, order_id):
        cur = self.cur
        cur.execute(self.sql_select_order, (order_id,))
        row = cur.fetchone()
        if row is None:
            raise LookupError(f'floor get: no order {order_id}')
        return row, self._items([order_id])

    def list_page(self, page=1, page_size=10):
        cur = self.cur
        cur.execute(self.sql_page, (page_size + 1, (page - 1) * page_size))
        rows = cur.fetchall()[:page_size]
        items = self._items([row[0] for row in rows]) if rows else []
        cur.execute(self.sql_total, (1,))
        return rows, items, cur.fetchone()[0]

    def list_after(self, after, page_size=10):
        cur = self.cur
        cur.execute(self.sql_after, (after, page_size + 1))
        rows = cur.fetchall()[:page_size]
        items = self._items([row[0] for row in rows]) if rows else []
        cur.execute(self.sql_total, (1,))
        return rows, items, cur.fetchone()[0]

    def user_orders(self, user_id, page_size=10):
        cur = self.cur
        cur.execute(self.sql_user_page, (user_id, page_size + 1, 0))
        rows = cur.fetchall()[:page_size]
        items = self._items([row[0] for row in rows]) if rows else []
        cur.execute(self.sql_user_count, (user_id, 1))
        return rows, items, cur.fetchone()[0]

    def update_status(self, order_id, new_status, shard):
        cur = self.cur
        now = utcnow()

        def work():
            cur.execute(self.sql_lock_order, (order_id, 1, 0))
            row = cur.fetchone()
            if row is None:
                raise LookupError(f'floor update: no order {order_id}')
            _, user_id, email, status, total, _, _, version = row
            cur.execute(self.sql_update_status,
                        (new_status, now, version + 1, order_id, version))
            if cur.rowcount != 1:
                raise RuntimeError(f'floor update: order {order_id} changed meanwhile')
            event_type = 'order_shipped' if new_status == 'shipped' else 'order_updated'
            outbox_id = self._outbox(event_type, order_id, user_id, email, new_status,
                                     total, now)
            self._items([order_id])
            cur.execute(self.sql_count_two,
                        (new_status, 1, status, -1, 0, shard, new_status, status))
            return outbox_id

        self._mark_published(self._transaction(work), now)

    def delete(self, order_id, shard):
        cur = self.cur
        now = utcnow()

        def work():
            cur.execute(self.sql_lock_order, (order_id, 1, 0))
            row = cur.fetchone()
            if row is None:
                raise LookupError(f'floor delete: no order {order_id}')
            _, user_id, email, status, total, _, _, _ = row
            cur.execute(self.sql_delete_order, (order_id,))
            outbox_id = self._outbox('order_deleted', order_id, user_id, email, status,
                                     total, now)
            cur.execute(self.sql_count_one, (status, -1, 0, shard, status))
            return outbox_id

        self._mark_published(self._transaction(work), now)

    def count_all(self):
        """Not a service operation: what `total` would cost without the counts
        table (a COUNT(*) over every order)."""
        self.cur.execute('SELECT COUNT(*) FROM orders')
        return self.cur.fetchone()[0]

    # -- for the harness --------------------------------------------------
    def scalar(self, sql, params=()):
        self.cur.execute(sql.replace('%s', self.p), params)
        return self.cur.fetchone()[0]

    def counting(self):
        """Swap in a counting cursor; returns it (restore with uncount())."""
        self._plain = self.cur
        self.cur = CountingCursor(self._plain)
        return self.cur

    def uncount(self):
        self.cur = self._plain
