"""How a driver error is told apart and logged: a deadlock keeps the
connection and is retried, a broken connection is dropped, no spare
connection is a 503 of its own. No database: errors are built as peewee
re-raises PyMySQL's, and the connection is a fake that records."""

import json

import peewee
import pymysql
import pytest

from chalicelib.core.errors import DatabaseBusy, DatabaseUnavailable, TooManyConnections
from chalicelib.storage import connection
from chalicelib.storage.credentials import CredentialsUnavailable


def as_peewee(driver_error):
    return peewee.OperationalError(driver_error, *driver_error.args)


def mysql_error(code, text='...'):
    return as_peewee(pymysql.err.OperationalError(code, text))


@pytest.fixture
def discarded(monkeypatch):
    calls = []
    monkeypatch.setattr(connection, 'discard_connection', lambda: calls.append(True))
    return calls


def test_the_code_and_class_are_read_through_peewees_wrapping():
    error = mysql_error(2003, "Can't connect to MySQL server on 'db'")

    assert connection.error_code(error) == 2003
    assert (
        connection.describe(error) == "OperationalError 2003: Can't connect to MySQL server on 'db'"
    )
    assert connection.error_code(peewee.OperationalError('no code')) is None


def test_a_credentials_failure_is_described_by_its_aws_cause():
    error = as_peewee(CredentialsUnavailable('ClientError ResourceNotFoundException: gone'))

    assert (
        connection.describe(error)
        == 'CredentialsUnavailable ClientError ResourceNotFoundException: gone'
    )


@pytest.mark.parametrize('code', [2003, 2006, 2013, 2055, 1045])
def test_a_connection_failure_drops_the_connection_and_logs_one_line(code, logged, discarded):
    error = connection.unavailable(mysql_error(code, 'lost'))

    assert type(error) is DatabaseUnavailable
    assert discarded == [True]
    assert logged.lines == [('ERROR', f'Database unavailable: OperationalError {code}: lost')]


def test_an_interface_error_drops_the_connection(logged, discarded):
    error = connection.unavailable(peewee.InterfaceError(pymysql.err.InterfaceError(0, '')))

    assert type(error) is DatabaseUnavailable and discarded == [True]


@pytest.mark.parametrize('code', [1040, 1226])
def test_no_connection_to_spare_is_its_own_503(code, logged, discarded):
    assert type(connection.unavailable(mysql_error(code))) is TooManyConnections
    assert logged.lines[0][1].startswith(f'Database unavailable: OperationalError {code}')


@pytest.mark.parametrize('code', [1205, 1213])
def test_a_busy_database_keeps_the_connection(code, logged, discarded):
    assert type(connection.unavailable(mysql_error(code))) is DatabaseBusy
    assert discarded == []
    assert logged.lines == [('ERROR', f'Database busy: OperationalError {code}: ...')]


def failing(*errors):
    """A transaction that raises each error in turn, then succeeds."""
    calls = []

    @connection.retry_when_busy
    def transaction():
        calls.append(True)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return 'committed'

    return transaction, calls


def test_a_deadlock_runs_the_transaction_once_more(logged, discarded):
    transaction, calls = failing(mysql_error(1213, 'Deadlock found'))

    assert transaction() == 'committed'
    assert len(calls) == 2 and discarded == []
    assert logged.lines == [
        (
            'WARNING',
            'Database busy (OperationalError 1213: Deadlock found): running the transaction again',
        )
    ]


def test_busy_twice_answers_database_busy_keeping_the_connection(logged, discarded):
    transaction, calls = failing(mysql_error(1205, 'Lock wait'), mysql_error(1213, 'Deadlock'))

    with pytest.raises(DatabaseBusy):
        transaction()
    assert len(calls) == 2 and discarded == []
    assert [level for level, _ in logged.lines] == ['WARNING', 'ERROR']


def test_other_errors_are_never_retried(logged, discarded):
    transaction, calls = failing(mysql_error(2013, 'Lost connection'))

    with pytest.raises(peewee.OperationalError):
        transaction()
    assert len(calls) == 1 and logged.lines == []


def test_a_retried_transaction_counts_as_a_transaction_retry(logged, discarded, capsys):
    transaction, _ = failing(mysql_error(1213, 'Deadlock found'))

    transaction()

    [line] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert line['_aws']['CloudWatchMetrics'][0]['Metrics'] == [
        {'Name': 'TransactionRetries', 'Unit': 'Count'}
    ]
    assert line['_aws']['CloudWatchMetrics'][0]['Namespace'] == 'OrdersService'
    assert line['TransactionRetries'] == [1.0]
