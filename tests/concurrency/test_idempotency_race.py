"""Concurrency: POSTs with the same Idempotency-Key at the same moment from
several Lambda copies make one order; every answer is the 201 (original or
replay) or a 409, never a 500."""

import collections

import pytest

from tests.concurrency.harness import CONTEXT, query, run_workers, summarize, worker_env
from tests.concurrency.workers import order_body
from tests.support import stored_key

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 4
KEYS = 12


def _orders_of(database, user_id):
    return [
        order_id
        for (order_id,) in query(
            database, 'SELECT order_id FROM orders WHERE user_id = %s', (user_id,)
        )
    ]


def _created_events(database, order_id):
    return query(
        database,
        "SELECT COUNT(*) FROM outbox WHERE order_id = %s AND event_type = 'order_created'",
        (order_id,),
    )[0][0]


def test_simultaneous_posts_with_one_key_make_one_order(fresh_database, tmp_path):
    requests = [
        (f'race-key-{n}', order_body(7000 + n, f'buyer{n}@example.com')) for n in range(KEYS)
    ]
    barrier = CONTEXT.Barrier(PROCESSES)
    outcomes = run_workers(
        'post_same_key',
        worker_env(fresh_database, tmp_path),
        [dict(requests=requests, barrier=barrier, retry=True) for _ in range(PROCESSES)],
        tmp_path,
    )
    answers = [a for outcome in outcomes for a in outcome]
    race = [a for a in answers if a['phase'] == 'race']

    assert set(a['status'] for a in race) <= {201, 409}, collections.Counter(
        a['status'] for a in race
    )
    assert all(a['code'] == 'ConflictError' and a['message'] for a in race if a['status'] == 409)
    for n, (key, _) in enumerate(requests):
        mine = [a for a in answers if a['key'] == key]
        originals = [a for a in mine if a['status'] == 201 and a['replayed'] != 'true']
        assert len(originals) == 1, (key, mine)
        # Every 201 (a replay too) is the very answer the original got; once the
        # race is over, a retry of the 409s is a replay.
        assert all(a['full'] == originals[0]['full'] for a in mine if a['status'] == 201)
        assert all(
            a['status'] == 201 and a['replayed'] == 'true' for a in mine if a['phase'] == 'retry'
        ), key
        assert _orders_of(fresh_database, 7000 + n) == [originals[0]['order_id']], key
        assert _created_events(fresh_database, originals[0]['order_id']) == 1, key
        assert query(
            fresh_database,
            'SELECT response_body IS NOT NULL FROM idempotency_keys WHERE `key` = %s',
            (stored_key(key),),
        ) == ((1,),), key
    summarize(
        'idempotency race (same body)',
        answers,
        processes=PROCESSES,
        keys=KEYS,
        race_by_status=dict(collections.Counter(a['status'] for a in race)),
        replays=sum(1 for a in answers if a['replayed'] == 'true'),
        orders=query(fresh_database, 'SELECT COUNT(*) FROM orders')[0][0],
    )


def test_simultaneous_posts_with_one_key_and_different_bodies(fresh_database, tmp_path):
    """The same key with another body is a 422 (or a 409 while the first is
    in flight), never a second order."""
    requests = [
        (f'mixed-key-{n}', {i: order_body(8000 + n, f'w{i}@example.com') for i in range(PROCESSES)})
        for n in range(KEYS // 2)
    ]
    barrier = CONTEXT.Barrier(PROCESSES)
    outcomes = run_workers(
        'post_same_key',
        worker_env(fresh_database, tmp_path),
        [dict(requests=requests, barrier=barrier) for _ in range(PROCESSES)],
        tmp_path,
    )
    answers = [a for outcome in outcomes for a in outcome]

    statuses = collections.Counter(a['status'] for a in answers)
    assert set(statuses) <= {201, 409, 422}, statuses
    for n, (key, _) in enumerate(requests):
        mine = [a for a in answers if a['key'] == key]
        assert [a['status'] for a in mine].count(201) == 1, (key, mine)
        assert len(_orders_of(fresh_database, 8000 + n)) == 1, key
    summarize(
        'idempotency race (different bodies)',
        answers,
        processes=PROCESSES,
        keys=len(requests),
        orders=query(fresh_database, 'SELECT COUNT(*) FROM orders')[0][0],
    )
