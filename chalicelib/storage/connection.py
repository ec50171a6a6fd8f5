"""The database: one proxy for SQLite and MariaDB, opened lazily and kept warm.

A Lambda container serves one request at a time and lives for many of them, so
the connection is opened on first use and reused; after the container sat idle
it is pinged first, because MariaDB may have dropped it (wait_timeout, a
restart, a failover) and a dead connection must never reach a request.

One connection per process, not per thread: Lambda runs one request at a
time, and `chalice local` serves each request in a thread of its own, where a
connection per thread (peewee's default) would open a new connection for
every request and never close the old ones. `one_request_at_a_time` makes
the threads of `chalice local` take turns, as Lambda invocations do.

On MySQL each new connection asks its credentials for a user and password
(storage/credentials.py): a secret that may have been rotated, or a fresh IAM
token. With DB_SSL_CA it speaks TLS and checks the server's certificate and
name; without it, no TLS at all.

What the server answers decides what happens to the connection: a deadlock or
a lock wait (1213, 1205) leaves the session healthy, so the connection is kept
and the transaction run once more (retry_when_busy); anything else that is an
OperationalError or InterfaceError is taken as a broken connection and dropped.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import peewee

from chalicelib.core import clock
from chalicelib.core.errors import DatabaseBusy, DatabaseUnavailable, TooManyConnections
from chalicelib.platform import metrics
from chalicelib.platform.config import ConfigError, DatabaseSettings, Settings
from chalicelib.platform.logs import log
from chalicelib.storage.credentials import Credentials, credentials_for
from chalicelib.storage.fields import MYSQL_FIELD_TYPES, SQLITE_FIELD_TYPES

if TYPE_CHECKING:
    import pymysql
else:
    # Imported by the first MySQL connection, never by SQLite (storage/drivers.py).
    from chalicelib.storage.drivers import pymysql

database = peewee.DatabaseProxy()

# Seconds a connection may sit unused before it is pinged prior to use.
IDLE_PING_SECONDS = 1.0
# A ping that fails slower than this met a silent server, not a closed socket.
PING_GIVE_UP_SECONDS = 1.0
MYSQL_TIMEOUTS = {'connect_timeout': 3, 'read_timeout': 5, 'write_timeout': 5}
CONNECTION_ERRORS = (peewee.OperationalError, peewee.InterfaceError)

ACCESS_DENIED = 1045
# The server's max_connections (1040) or the user's MAX_USER_CONNECTIONS (1226).
NO_CONNECTION_TO_SPARE = frozenset({1040, 1226})
# A deadlock victim (1213) or a lock wait past innodb_lock_wait_timeout (1205):
# the server rolled back, the session is fine.
BUSY = frozenset({1205, 1213})

P = ParamSpec('P')
R = TypeVar('R')


class _Connection:
    last_used = 0.0


# Held by every HTTP request for its duration (api/middleware.py takes it):
# uncontended in Lambda, it keeps `chalice local`'s request threads off the
# shared connection at once.
one_request_at_a_time = threading.Lock()


_state = _Connection()


class _AnswerUnread:
    """Stands in for PyMySQL's last result while the answer to a statement
    sent by send_without_waiting is unread: PyMySQL's next command on the
    connection reads that answer first (has_next), so the protocol stays in
    step whoever uses the connection next. connect() reads it earlier, at the
    start of the next request, where a failure is only logged."""

    has_next = True
    unbuffered_active = False


def send_without_waiting(conn: Any, sql: str, params: dict[str, Any]) -> None:
    """Send one autocommit statement on a PyMySQL connection and return
    before the server answers: the server runs and commits it on its own
    while the request goes on (and after it ended, the Lambda copy frozen),
    and its answer is read before the connection's next command."""
    try:
        text = conn.cursor().mogrify(sql, params)
        conn._execute_command(pymysql.constants.COMMAND.COM_QUERY, text)
    except pymysql.InterfaceError as exc:  # as peewee's statements raise them
        raise peewee.InterfaceError(*exc.args) from exc
    except (pymysql.MySQLError, OSError) as exc:
        raise peewee.OperationalError(*exc.args) from exc
    conn._result = _AnswerUnread()


def has_unread_answer() -> bool:
    """Has a statement been sent on the open connection whose answer is not read yet?"""
    if is_sqlite() or database.is_closed():
        return False
    return isinstance(getattr(database.connection(), '_result', None), _AnswerUnread)


def _read_unread_answer() -> None:
    """The answer to a statement sent without waiting; a refusal is logged
    (what it was for is left undone: the relay's). A broken connection is
    dropped, and one that stopped answering raises as a failed ping does:
    a reconnect would wait out its timeouts too."""
    if not has_unread_answer():
        return
    started = clock.monotonic()
    try:
        database.connection().next_result()
    except (OSError, pymysql.OperationalError, pymysql.InterfaceError) as exc:
        log.warning('A statement sent without waiting failed: %s', describe(exc))
        discard_if_broken(exc)
        if clock.monotonic() - started > PING_GIVE_UP_SECONDS:
            raise peewee.OperationalError('the database did not answer') from exc
    except pymysql.MySQLError as exc:
        log.warning('A statement sent without waiting failed: %s', describe(exc))


class CredentialedMySQLDatabase(peewee.MySQLDatabase):
    """MySQL that asks `credentials` for a user and password at each new
    connection, never once for the container's life."""

    def __init__(self, name: str, credentials: Credentials, **kwargs: Any) -> None:
        self.credentials = credentials
        super().__init__(name, **kwargs)

    def send_sql(self, sql: str, params: dict[str, Any]) -> None:
        """send_without_waiting on this database's connection; query hooks
        see the statement as they see those executed."""
        send_without_waiting(self.connection(), sql, params)
        for hook in self.query_hooks:
            hook(peewee.QueryEvent(sql, params, 0.0, None))

    def _connect(self) -> pymysql.connections.Connection[Any]:
        user, password = self.credentials.get()
        return pymysql.connect(
            database=self.database,
            autocommit=True,
            user=user,
            password=password,
            **self.connect_params,
        )


def make_database(db_settings: DatabaseSettings, credentials: Any = None) -> peewee.Database:
    if db_settings.engine == 'sqlite':
        directory = os.path.dirname(db_settings.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        # IMMEDIATE: a write transaction takes the write lock when it begins,
        # so a read-then-write never fails on a snapshot another writer moved.
        return peewee.SqliteDatabase(
            db_settings.path,
            lock_type='IMMEDIATE',
            thread_safe=False,
            check_same_thread=False,
            field_types=SQLITE_FIELD_TYPES,
            pragmas={
                'journal_mode': 'wal',
                'foreign_keys': 1,
                'busy_timeout': 5000,
                'synchronous': 'normal',
            },
        )
    return CredentialedMySQLDatabase(
        db_settings.name,
        credentials,
        host=db_settings.host,
        port=db_settings.port,
        field_types=MYSQL_FIELD_TYPES,
        autoconnect=True,
        thread_safe=False,
        **_tls(db_settings.ssl_ca),
        **MYSQL_TIMEOUTS,
    )


def _tls(ca_path: str | None) -> dict[str, Any]:
    if not ca_path:
        # PyMySQL would otherwise try TLS without checking anything and fall
        # back to plaintext: encryption nobody verified, hiding a missing
        # DB_SSL_CA. No CA, no TLS, and a server that insists refuses us.
        return {'ssl_disabled': True}
    import ssl  # TLS to MySQL only: SQLite never loads it

    try:
        # Built once per container (the RDS bundle holds a hundred
        # certificates); it checks the chain and that the certificate names
        # DB_HOST, and PyMySQL never falls back to plaintext once given one.
        context = ssl.create_default_context(cafile=ca_path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f'DB_SSL_CA={ca_path}: not a readable CA bundle ({exc})') from exc
    return {'ssl': context}


def initialize(db: peewee.Database) -> None:
    if database.obj is not None and not database.is_closed():
        database.close()
    database.initialize(db)


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


def connect() -> None:
    """Make sure a live connection is open; raise DatabaseUnavailable if not."""
    try:
        _read_unread_answer()
        if database.is_closed():
            _open()
        elif not is_sqlite() and clock.monotonic() - _state.last_used > IDLE_PING_SECONDS:
            _ping_or_reconnect()
    except CONNECTION_ERRORS as exc:
        raise unavailable(exc) from exc
    _state.last_used = clock.monotonic()


def _open() -> None:
    try:
        database.connect()
    except peewee.OperationalError as exc:
        if error_code(exc) != ACCESS_DENIED or not database.obj.credentials.renew():
            raise
        # The password was rotated since it was read: once more with the new one.
        log.warning(
            'The database refused the credentials (%s); signing in again with the secret read anew',
            describe(exc),
        )
        database.connect()


def _ping_or_reconnect() -> None:
    started = clock.monotonic()
    try:
        database.connection().ping(reconnect=False)
    except Exception as exc:
        discard_connection()
        if clock.monotonic() - started > PING_GIVE_UP_SECONDS:
            # The server stopped answering (a partition, not a dropped
            # connection): a reconnect would wait out its timeouts too.
            raise peewee.OperationalError('the database did not answer a ping') from exc
        _open()


def discard_connection() -> None:
    """Drop a connection that failed, so the next request opens a fresh one."""
    try:
        database.close()
    except Exception:
        # A broken socket (or a transaction that could not roll back) makes
        # close() fail; forget the connection all the same.
        database.obj._state.reset()


def error_code(exc: BaseException) -> int | None:
    """The MySQL error number of a driver error, or None."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def describe(exc: BaseException) -> str:
    """'OperationalError 2003: Can't connect…' for the log: the class the
    driver raised (peewee keeps it as `orig`), its code and text. MySQL's
    texts name users and hosts, never passwords."""
    driver_error = getattr(exc, 'orig', exc)
    code = error_code(exc)
    if code is None:
        text = str(exc)
    else:
        text = f'{code}: {exc.args[1]}' if len(exc.args) > 1 else str(code)
    return f'{type(driver_error).__name__} {text}'[:300]


def discard_if_broken(exc: BaseException) -> None:
    """After a failed operation: drop the connection, unless the server only
    said it was busy (the session is fine, a new one would cost a sign-in)."""
    if error_code(exc) not in BUSY:
        discard_connection()


def unavailable(exc: BaseException) -> DatabaseUnavailable:
    """The 503 a failed database operation answers, its cause logged in one
    line. A broken connection is dropped; a busy one is kept."""
    discard_if_broken(exc)
    code = error_code(exc)
    if code in BUSY:
        log.error('Database busy: %s', describe(exc))
        return DatabaseBusy()
    log.error('Database unavailable: %s', describe(exc))
    return TooManyConnections() if code in NO_CONNECTION_TO_SPARE else DatabaseUnavailable()


def retry_when_busy(transaction: Callable[P, R]) -> Callable[P, R]:
    """Run `transaction` once more if MariaDB rolled it back as a deadlock
    victim or it outwaited a lock, then answer DatabaseBusy. The connection
    is kept: the server ended the transaction, not the session.

    Wrap the function that opens the transaction, never one called inside
    one: a deadlock rolls back the whole transaction, not a savepoint."""

    @functools.wraps(transaction)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return transaction(*args, **kwargs)
        except peewee.OperationalError as exc:
            if error_code(exc) not in BUSY:
                raise
            log.warning('Database busy (%s): running the transaction again', describe(exc))
            metrics.emit('TransactionRetries', 1)
        try:
            return transaction(*args, **kwargs)
        except peewee.OperationalError as exc:
            if error_code(exc) not in BUSY:
                raise
            raise unavailable(exc) from exc

    return run


def open_database(settings: Settings) -> None:
    """Point the proxy at the configured database (no connection yet, and no
    credentials read: the first connect() asks for them). A database the
    settings forbid reaching, or a CA bundle that cannot be read, is
    DatabaseUnavailable (a 503) with the reason in one log line."""
    if settings.database.refusal:
        log.error('Database unavailable: %s', settings.database.refusal)
        raise DatabaseUnavailable()
    credentials = credentials_for(settings) if settings.database.engine == 'mysql' else None
    try:
        database = make_database(settings.database, credentials)
    except ConfigError as exc:
        log.error('Database unavailable: %s', exc)
        raise DatabaseUnavailable() from exc
    initialize(database)
