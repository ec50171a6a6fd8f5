"""Two copies of the migrate function started at the same moment on a new
MariaDB database: both succeed, and each step is applied once, by one of them."""

import json

import pytest

from chalicelib.storage.migrations import LATEST, STEPS
from tests.concurrency.harness import CONTEXT, query, run_workers, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

COPIES = 2


def test_two_copies_migrating_at_once_apply_each_step_once(empty_database, tmp_path):
    env = worker_env(empty_database, tmp_path)
    barrier = CONTEXT.Barrier(COPIES)

    answers = run_workers(
        'migrate_at_once', env, [dict(barrier=barrier) for _ in range(COPIES)], tmp_path
    )

    applied = [step for answer in answers for step in answer['applied']]
    versions = query(
        empty_database,
        'SELECT version, COUNT(*) FROM schema_version GROUP BY version ORDER BY version',
    )
    print(
        '\nSCENARIO '
        + json.dumps(
            {
                'scenario': 'migrate race',
                'copies': COPIES,
                'applied_by_copy': [answer['applied'] for answer in answers],
                'started_apart_s': round(abs(answers[0]['started'] - answers[1]['started']), 3),
            }
        )
    )
    assert [answer['version'] for answer in answers] == [LATEST] * COPIES
    assert sorted(applied) == [number for number, _, _ in STEPS]
    assert versions == tuple((number, 1) for number, _, _ in STEPS)
    tables = {table for (table,) in query(empty_database, 'SHOW TABLES')}
    assert {'orders', 'order_items', 'outbox', 'schema_version'} <= tables
