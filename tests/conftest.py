"""Fixtures shared by every test: databases (SQLite and MariaDB) and the app client."""
import os
import sqlite3
import uuid
from datetime import datetime

import peewee
import pymysql
import pymysql.connections
import pytest

from chalicelib import aws, counts, db, runtime
from chalicelib.config import get_settings
from chalicelib.migrate import create_schema
from chalicelib.models import MODELS
from tests.support import Clock

MARIADB = dict(host=os.environ.get('TEST_MARIADB_HOST', '127.0.0.1'),
               port=int(os.environ.get('TEST_MARIADB_PORT', '3306')),
               user=os.environ.get('TEST_MARIADB_USER', 'root'),
               password=os.environ.get('TEST_MARIADB_PASSWORD', ''))
IN_CI = os.environ.get('CI', '').lower() in ('1', 'true', 'yes')


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


def mariadb_url(name):
    auth = MARIADB['user'] + (f":{MARIADB['password']}" if MARIADB['password'] else '')
    return f"mysql://{auth}@{MARIADB['host']}:{MARIADB['port']}/{name}"


@pytest.fixture(params=['sqlite', pytest.param('mariadb', marks=pytest.mark.mariadb)])
def database_url(request, tmp_path):
    """Every test that takes this runs once on SQLite and once on MariaDB."""
    if request.param == 'sqlite':
        return f'sqlite:///{tmp_path}/orders.sqlite3'
    name = request.getfixturevalue('mariadb_database')
    return mariadb_url(name)


def _empty_tables():
    for model in reversed(MODELS):
        model.delete().execute()


@pytest.fixture
def environment(database_url, tmp_path, monkeypatch):
    """The service's environment for one test: its database, no AWS, mail to tmp."""
    for name in ('SNS_TOPIC_ARN', 'SES_SENDER_EMAIL', 'DB_HOST', 'DB_SECRET_ARN'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('DATABASE_URL', database_url)
    monkeypatch.setenv('AUTO_MIGRATE', 'true')
    monkeypatch.setenv('MAIL_DIR', str(tmp_path / 'mail'))
    monkeypatch.setenv('AWS_DEFAULT_REGION', 'us-east-1')
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'testing')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'testing')
    get_settings.cache_clear()
    aws.forget_clients()
    yield get_settings()
    get_settings.cache_clear()
    aws.forget_clients()


@pytest.fixture
def database(environment):
    """The configured database, schema created and every table empty."""
    db.open_database(environment)
    db.ready(create_schema)
    _empty_tables()
    counts.recount()
    yield db.database
    db.discard_connection()


@pytest.fixture
def app_module(database):
    import app as app_module
    runtime.reset()
    yield app_module
    runtime.reset()


@pytest.fixture
def client(app_module):
    from chalice.test import Client
    with Client(app_module.app, stage_name='local') as test_client:
        yield test_client


# A moment of the tests' own, full of zeros: no test reads today's date.
FROZEN_AT = datetime(2030, 1, 1, 0, 0, 5)


@pytest.fixture
def service_clock(app_module, monkeypatch):
    """The app's order service on a Clock of the test's own, standing at
    FROZEN_AT until the test moves it (or gives it a step)."""
    from chalicelib.orders import OrderService
    clock = Clock(FROZEN_AT)
    # The publisher is looked up at each change, as runtime.order_service's
    # own service would use it (tests replace its client, AWS fixtures reset it).
    service = OrderService(
        publish=lambda events: runtime.publisher().publish_committed(events), clock=clock)

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
        connection = real_connect(self)
        connection.set_trace_callback(statements.append)
        return connection
    monkeypatch.setattr(peewee.SqliteDatabase, '_connect', connect)
    traced = None
    if db.is_sqlite() and not db.database.is_closed():
        traced = db.database.connection()
        traced.set_trace_callback(statements.append)
    yield statements
    if traced is not None:
        try:
            traced.set_trace_callback(None)
        except sqlite3.ProgrammingError:
            pass  # closed meanwhile (the app opens the database its own way)
