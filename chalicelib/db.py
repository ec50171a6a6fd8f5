"""The database: one proxy for SQLite and MariaDB, opened lazily and kept warm.

A Lambda container serves one request at a time and lives for many of them, so
the connection is opened on first use and reused; after the container sat idle
it is pinged first, because MariaDB may have dropped it (wait_timeout, a
restart, a failover) and a dead connection must never reach a request.
"""
import os
import time
from decimal import Decimal

import peewee

from chalicelib.errors import DatabaseUnavailable

database = peewee.DatabaseProxy()

CENT = Decimal('0.01')

# SQLite has no DECIMAL (a NUMERIC column hands back floats), so money is TEXT
# there; MariaDB keeps microseconds only when DATETIME is declared with them.
# MariaDB's collations ignore trailing spaces (and the default one case): an
# exact key (an Idempotency-Key) is stored as bytes there.
SQLITE_FIELD_TYPES = {'MONEY': 'TEXT', 'DATETIME6': 'DATETIME',
                      'EXACT_KEY': 'VARCHAR(255)'}
MYSQL_FIELD_TYPES = {'MONEY': 'DECIMAL(10,2)', 'DATETIME6': 'DATETIME(6)',
                     'EXACT_KEY': 'VARBINARY(255)'}

# Seconds a connection may sit unused before it is pinged prior to use.
IDLE_PING_SECONDS = 1.0
# A ping that fails slower than this met a silent server, not a closed socket.
PING_GIVE_UP_SECONDS = 1.0
MYSQL_TIMEOUTS = {'connect_timeout': 3, 'read_timeout': 5, 'write_timeout': 5}
CONNECTION_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


class MoneyField(peewee.Field):
    """Exact money: DECIMAL(10,2) on MariaDB, TEXT on SQLite, Decimal in Python."""
    field_type = 'MONEY'

    def db_value(self, value):
        if value is None:
            return None
        return str(Decimal(value).quantize(CENT))

    def python_value(self, value):
        if value is None:
            return None
        return Decimal(str(value)).quantize(CENT)


class ExactKeyField(peewee.CharField):
    """Up to 255 ASCII characters compared byte for byte."""
    field_type = 'EXACT_KEY'

    def get_modifiers(self):
        return None

    def python_value(self, value):
        return value.decode('ascii') if isinstance(value, bytes) else value


class PreciseDateTimeField(peewee.DateTimeField):
    field_type = 'DATETIME6'


class IdField(peewee.BigAutoField):
    """An id never handed out twice: SQLite reuses the id of a deleted newest
    row unless the key is declared AUTOINCREMENT."""

    def ddl(self, ctx):
        node = super().ddl(ctx)
        if isinstance(database.obj, peewee.SqliteDatabase):
            return peewee.NodeList((node, peewee.SQL('AUTOINCREMENT')))
        return node


class _Connection:
    last_used = 0.0


_state = _Connection()
_migrated = False


def make_database(db_settings, credentials=None):
    if db_settings.engine == 'sqlite':
        directory = os.path.dirname(db_settings.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        # IMMEDIATE: a write transaction takes the write lock when it begins,
        # so a read-then-write never fails on a snapshot another writer moved.
        return peewee.SqliteDatabase(
            db_settings.path, lock_type='IMMEDIATE',
            field_types=SQLITE_FIELD_TYPES,
            pragmas={'journal_mode': 'wal', 'foreign_keys': 1,
                     'busy_timeout': 5000, 'synchronous': 'normal'})
    user, password = credentials or (db_settings.user, db_settings.password)
    return peewee.MySQLDatabase(
        db_settings.name, host=db_settings.host, port=db_settings.port,
        user=user, password=password, field_types=MYSQL_FIELD_TYPES,
        autoconnect=True, **MYSQL_TIMEOUTS)


def initialize(db):
    global _migrated
    if database.obj is not None and not database.is_closed():
        database.close()
    database.initialize(db)
    _migrated = False


def is_sqlite():
    return isinstance(database.obj, peewee.SqliteDatabase)


def connect():
    """Make sure a live connection is open; raise DatabaseUnavailable if not."""
    try:
        if database.is_closed():
            database.connect()
        elif (not is_sqlite()
              and time.monotonic() - _state.last_used > IDLE_PING_SECONDS):
            _ping_or_reconnect()
    except CONNECTION_ERRORS as exc:
        discard_connection()
        raise DatabaseUnavailable() from exc
    _state.last_used = time.monotonic()


def _ping_or_reconnect():
    started = time.monotonic()
    try:
        database.connection().ping(reconnect=False)
    except Exception as exc:
        discard_connection()
        if time.monotonic() - started > PING_GIVE_UP_SECONDS:
            # The server stopped answering (a partition, not a dropped
            # connection): a reconnect would wait out its timeouts too.
            raise peewee.OperationalError('the database did not answer a ping') from exc
        database.connect()


def discard_connection():
    """Drop a connection that failed, so the next request opens a fresh one."""
    try:
        database.close()
    except Exception:
        # A broken socket (or a transaction that could not roll back) makes
        # close() fail; forget the connection all the same.
        database.obj._state.reset()


def open_database(settings):
    """Point the proxy at the configured database (no connection yet)."""
    db_settings = settings.database
    credentials = None
    if db_settings.engine == 'mysql' and db_settings.secret_arn:
        from chalicelib.secrets import database_credentials
        credentials = database_credentials(db_settings.secret_arn)
    initialize(make_database(db_settings, credentials))


def ready(migrate=None):
    """Connect (or check the warm connection) and, the first time, run
    `migrate` (given when AUTO_MIGRATE is on)."""
    global _migrated
    connect()
    if migrate is not None and not _migrated:
        try:
            migrate()
        except CONNECTION_ERRORS as exc:
            discard_connection()
            raise DatabaseUnavailable() from exc
        _migrated = True


_compiled = {}


class QueryShapeError(RuntimeError):
    pass


def _compiled_sql(shape, build, params):
    """Peewee turns a query into SQL on every execution, which costs more than a
    primary-key lookup on a warm connection. Hot paths name each query shape;
    the first call builds it with `build()` (with these very params, whose
    order is checked), later calls reuse the SQL text for this database kind."""
    key = (shape, type(database.obj))
    sql = _compiled.get(key)
    if sql is None:
        sql, built_params = build().sql()
        if list(built_params) != list(params):
            raise QueryShapeError(f'{shape}: params {built_params!r} != {params!r}')
        _compiled[key] = sql
    return sql


def run_compiled(model, shape, build, params):
    """Select model rows through the SQL compiled once for this shape."""
    return model.raw(_compiled_sql(shape, build, params), *params)


def execute_compiled(shape, build, params):
    """Run a write through the SQL compiled once for this shape; the cursor."""
    return database.execute_sql(_compiled_sql(shape, build, params), params)


def insert_rows(model, rows):
    """INSERT rows (dicts with the same keys) through compiled SQL; returns
    the id of the first row inserted."""
    fields = [field for field in model._meta.sorted_fields if field.name in rows[0]]
    params = [field.db_value(row[field.name]) for row in rows for field in fields]
    cursor = execute_compiled(('insert', model.__name__, tuple(rows[0]), len(rows)),
                              lambda: model.insert_many(rows), params)
    return database.last_insert_id(cursor)
