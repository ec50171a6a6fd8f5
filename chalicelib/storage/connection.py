"""The database: one proxy for SQLite and MariaDB, opened lazily and kept warm.

A Lambda container serves one request at a time and lives for many of them, so
the connection is opened on first use and reused; after the container sat idle
it is pinged first, because MariaDB may have dropped it (wait_timeout, a
restart, a failover) and a dead connection must never reach a request.
"""
import os
import time

import peewee

from chalicelib.errors import DatabaseUnavailable
from chalicelib.storage.fields import MYSQL_FIELD_TYPES, SQLITE_FIELD_TYPES

database = peewee.DatabaseProxy()

# Seconds a connection may sit unused before it is pinged prior to use.
IDLE_PING_SECONDS = 1.0
# A ping that fails slower than this met a silent server, not a closed socket.
PING_GIVE_UP_SECONDS = 1.0
MYSQL_TIMEOUTS = {'connect_timeout': 3, 'read_timeout': 5, 'write_timeout': 5}
CONNECTION_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


class _Connection:
    last_used = 0.0


_state = _Connection()


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
    if database.obj is not None and not database.is_closed():
        database.close()
    database.initialize(db)


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
        from chalicelib.storage.credentials import database_credentials
        credentials = database_credentials(db_settings.secret_arn)
    initialize(make_database(db_settings, credentials))
