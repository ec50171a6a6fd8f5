"""The operator commands (make migrate, relay, recount, redrive,
import-products; chalicelib/wiring/cli.py) fail in words: exit status 1, one line
on stderr saying what is wrong, never a traceback, and nothing but JSON log
lines on stdout. Each runs as make runs it, in a process of its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.local_service import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*argv, **env):
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(('DATABASE_URL', 'DB_', 'AWS_', 'SNS_', 'STRIPE_', 'ENVIRONMENT'))
    }
    return subprocess.run(
        [sys.executable, '-m', 'chalicelib.wiring.cli', *argv],
        cwd=ROOT,
        env={**kept, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def closed_mysql():
    """A MySQL URL nothing answers at (a port just freed)."""
    return f'mysql://orders:secret@127.0.0.1:{free_port()}/orders'


@pytest.mark.parametrize(
    ('argv', 'env', 'says'),
    [
        (
            ['migrate'],
            {'DATABASE_URL': 'postgres://db/orders'},
            'migrate failed: the configuration is not usable: DATABASE_URL: unsupported scheme',
        ),
        (
            ['migrate'],
            {'ENVIRONMENT': 'local', 'DATABASE_URL': 'closed'},
            'migrate failed: The database is unavailable',
        ),
        (
            ['relay'],
            {'ENVIRONMENT': 'local', 'DATABASE_URL': 'closed'},
            'relay failed: The database is unavailable',
        ),
        (
            ['recount'],
            {'ENVIRONMENT': 'local', 'DATABASE_URL': 'closed'},
            'recount failed: The database is unavailable',
        ),
        (
            ['migrate'],
            {'DATABASE_URL': 'closed'},
            'migrate failed: The database is unavailable',
        ),
        (
            ['redrive'],
            {'AWS_PROFILE': 'no-such-profile', 'AWS_DEFAULT_REGION': 'us-east-1'},
            'redrive failed: ProfileNotFound: The config profile (no-such-profile)',
        ),
    ],
    ids=['bad url', 'no database', 'relay', 'recount', 'deployed stage, no TLS', 'no AWS profile'],
)
def test_a_command_that_cannot_do_its_work_says_why_in_one_line(argv, env, says):
    if env.get('DATABASE_URL') == 'closed':
        env = {**env, 'DATABASE_URL': closed_mysql()}

    result = run_cli(*argv, **env)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(says), result.stderr
    assert 'Traceback' not in result.stdout + result.stderr
    assert 'secret' not in result.stdout + result.stderr
    for line in result.stdout.splitlines():
        assert json.loads(line)['level'] in ('INFO', 'WARNING', 'ERROR')


def test_the_log_line_before_says_why_the_database_is_unavailable():
    result = run_cli('migrate', DATABASE_URL=closed_mysql())

    [line] = [json.loads(line) for line in result.stdout.splitlines()]
    assert line['message'].startswith(
        'Database unavailable: DATABASE_URL names a MySQL server on a deployed stage without '
        'DB_SSL_CA'
    )


def test_a_usage_mistake_is_exit_status_2_with_the_usage():
    result = run_cli('import-products')

    assert result.returncode == 2
    assert 'make import-products FILE=products.csv' in result.stderr
