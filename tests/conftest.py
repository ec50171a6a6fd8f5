"""Fixtures shared by every test: databases (SQLite and MariaDB), the app
client, and what the service logged."""

import json
import logging
import os
import shutil
import sqlite3
import sys
import uuid

import peewee
import pymysql
import pymysql.connections
import pytest

from tests.support import FROZEN_AT, IN_CI, MARIADB, mariadb_url, staff_client, trust

# No X-Ray in tests, whatever the shell says: tests/integration/test_tracing.py
# turns it on in a Lambda-like process of its own.
os.environ['POWERTOOLS_TRACE_DISABLED'] = 'true'

from chalicelib.identity.dev_issuer import DevIssuer
from chalicelib.orders import counts
from chalicelib.orders.lifecycle import STATUSES
from chalicelib.platform import logs
from chalicelib.platform.config import get_settings, settings_from
from chalicelib.storage import connection
from chalicelib.storage.migrations import migrate, upgrade
from chalicelib.storage.models import MODELS, OrderCount
from chalicelib.wiring import runtime
from tests.support import Clock


def _mariadb_reachable():
    try:
        pymysql.connect(connect_timeout=2, **MARIADB).close()
        return True
    except pymysql.err.MySQLError:
        return False


@pytest.fixture(scope='session')
def mariadb_database():
    """A database of its own for this test run (per xdist worker), dropped at the end."""
    if not _mariadb_reachable():
        if IN_CI:
            pytest.fail('MariaDB is unreachable and CI=true: the MariaDB tests must run')
        pytest.skip('MariaDB is unreachable')
    worker = os.environ.get('PYTEST_XDIST_WORKER', 'main')
    name = f'orders_test_{worker}_{uuid.uuid4().hex[:8]}'
    conn = pymysql.connect(autocommit=True, **MARIADB)
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE `{name}`')
    yield name
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS `{name}`')
    conn.close()


@pytest.fixture(scope='session')
def sqlite_template(tmp_path_factory):
    """A SQLite file migrated once per test run (per xdist worker), which each
    SQLite test copies: a copy takes a millisecond, the migration far longer."""
    path = tmp_path_factory.mktemp('sqlite-template') / 'orders.sqlite3'
    migrate(settings_from({'DATABASE_URL': f'sqlite:///{path}'}), counts.recount)
    return path


@pytest.fixture(params=['sqlite', pytest.param('mariadb', marks=pytest.mark.mariadb)])
def database_url(request, tmp_path):
    """Every test that takes this runs once on SQLite and once on MariaDB.
    The SQLite file starts as a copy of the migrated template."""
    if request.param == 'sqlite':
        path = tmp_path / 'orders.sqlite3'
        shutil.copyfile(request.getfixturevalue('sqlite_template'), path)
        return f'sqlite:///{path}'
    name = request.getfixturevalue('mariadb_database')
    return mariadb_url(name)


def _empty_tables():
    """Every table empty and every order count at zero, as counts.recount()
    leaves an empty database: in one transaction (on MariaDB each DELETE on
    its own was a commit of its own), the count rows zeroed in place rather
    than deleted and written again (10 ms a test on MariaDB, 3 on SQLite,
    against 1 to 4 now). A test that left other count rows gets them rebuilt."""
    with connection.database.atomic():
        for model in reversed(MODELS):
            if model is not OrderCount:
                model.delete().execute()
        OrderCount.update(n=0).execute()
        rows = set(OrderCount.select(OrderCount.status, OrderCount.shard).tuples())
        if rows != {(status, shard) for status in STATUSES for shard in range(counts.SHARDS)}:
            counts.recount()


@pytest.fixture(scope='session')
def localstripe():
    """localstripe (a fake Stripe server) in a process of its own, for the run."""
    from tests.stripe_support import LocalStripe

    server = LocalStripe()
    yield server
    server.stop()


@pytest.fixture(scope='session')
def issuer(tmp_path_factory):
    """A token issuer of the test run's own (one RSA key for the session)."""
    made = DevIssuer(tmp_path_factory.mktemp('issuer'))
    made.ensure_keys()
    return made


@pytest.fixture(scope='session')
def staff_token(issuer):
    return issuer.mint(role='staff')


@pytest.fixture
def environment(database_url, tmp_path, monkeypatch, issuer):
    """The service's environment for one test: its database, no AWS, mail to
    tmp, tokens of the test issuer."""
    for name in (
        'SNS_TOPIC_ARN',
        'SES_SENDER_EMAIL',
        'DB_HOST',
        'DB_SECRET_ARN',
        'AUTH_USER_ID_CLAIM',
        'AUTH_STAFF_GROUP',
    ):
        monkeypatch.delenv(name, raising=False)
    trust(issuer, monkeypatch)
    monkeypatch.setenv('DATABASE_URL', database_url)
    # The test server speaks no TLS; the stage is the default (dev), which
    # would refuse a mysql:// URL without a CA.
    monkeypatch.setenv('DB_SSL_CA', 'off')
    monkeypatch.setenv('AUTO_MIGRATE', 'true')
    monkeypatch.setenv('MAIL_DIR', str(tmp_path / 'mail'))
    monkeypatch.setenv('AWS_DEFAULT_REGION', 'us-east-1')
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'testing')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'testing')
    runtime.reset()
    yield get_settings()
    runtime.reset()


@pytest.fixture
def database(environment):
    """The configured database, schema created and every table empty."""
    connection.open_database(environment)
    connection.connect()
    upgrade(counts.recount)
    _empty_tables()
    yield connection.database
    connection.discard_connection()


@pytest.fixture
def app_module(database):
    import app as app_module

    runtime.reset()
    yield app_module
    runtime.reset()


@pytest.fixture
def client(app_module, staff_token):
    """chalice.test.Client sending a staff token unless a request names its
    own Authorization (None: send none)."""
    with staff_client(app_module.app, staff_token) as test_client:
        yield test_client


@pytest.fixture
def catalog(client):
    """Products 101 and 102 in the catalog at the prices order_body() sends."""
    from tests.support import stock_catalog

    stock_catalog(client)


class LogRecorder(logging.Handler):
    """Every line the service logs during a test, as (level, message)."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelname, record.getMessage()))

    def messages(self, level=None):
        return [
            message for line_level, message in self.lines if level is None or line_level == level
        ]


@pytest.fixture
def logged():
    import app  # noqa: F401  (importing it sets the service's handlers: add ours after)

    recorder = LogRecorder()
    logs.log.addHandler(recorder)
    yield recorder
    logs.log.removeHandler(recorder)


class StdoutLines:
    """The JSON lines the service wrote to stdout, parsed: its log lines
    and its EMF metric lines."""

    def __init__(self, capsys):
        self._capsys = capsys
        self._lines = []

    def all(self):
        for line in self._capsys.readouterr().out.splitlines():
            if line.startswith('{'):
                self._lines.append(json.loads(line))
        return list(self._lines)

    def clear(self):
        """Forget what was written so far."""
        self.all()
        self._lines = []

    def logs(self):
        return [line for line in self.all() if '_aws' not in line]

    def metrics(self, name=None):
        return [line for line in self.all() if '_aws' in line and (name is None or name in line)]


class _CurrentStdout:
    """Whatever sys.stdout is when a line is written (capsys swaps it)."""

    def write(self, text):
        return sys.stdout.write(text)

    def flush(self):
        sys.stdout.flush()


@pytest.fixture
def stdout(capsys):
    """What the service writes to stdout during the test. Its log handler
    holds the stdout it found at import: for now it writes to capsys's."""
    import app  # noqa: F401  (importing it configures the service's logger)

    handler = logs.log.registered_handler
    previous = handler.setStream(_CurrentStdout())
    yield StdoutLines(capsys)
    handler.setStream(previous)


@pytest.fixture
def service_clock(app_module, monkeypatch):
    """The app's order service on a Clock of the test's own, standing at
    FROZEN_AT until the test moves it (or gives it a step)."""
    from chalicelib.orders.service import OrderService

    clock = Clock(FROZEN_AT)
    # The publisher is looked up at each change, as runtime.order_service's
    # own service would use it (tests replace its client, AWS fixtures reset it).
    service = OrderService(
        publish=lambda events: runtime.publisher().publish_committed(events), clock=clock
    )

    def order_service():
        runtime.database()
        return service

    monkeypatch.setattr(runtime, 'order_service', order_service)
    return clock


@pytest.fixture
def executed_sql(monkeypatch):
    """Every SQL statement the database executed from now on, as it got it
    (parameters inlined): SQLite's trace of each connection opened, and each
    query pymysql sends to MariaDB."""
    statements = []
    real_query = pymysql.connections.Connection.query

    def query(self, sql, unbuffered=False):
        statements.append(sql.decode('utf-8', 'replace') if isinstance(sql, bytes) else sql)
        return real_query(self, sql, unbuffered)

    monkeypatch.setattr(pymysql.connections.Connection, 'query', query)
    real_connect = peewee.SqliteDatabase._connect

    def connect(self):
        opened = real_connect(self)
        opened.set_trace_callback(statements.append)
        return opened

    monkeypatch.setattr(peewee.SqliteDatabase, '_connect', connect)
    traced = None
    if connection.is_sqlite() and not connection.database.is_closed():
        traced = connection.database.connection()
        traced.set_trace_callback(statements.append)
    yield statements
    if traced is not None:
        try:
            traced.set_trace_callback(None)
        except sqlite3.ProgrammingError:
            pass  # closed meanwhile (the app opens the database its own way)
