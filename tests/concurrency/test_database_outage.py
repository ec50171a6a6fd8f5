"""A database restart under load: Lambda copies streaming creates through a
TCP proxy in front of MariaDB; the proxy closes (every live connection cut,
new ones refused) for a few seconds and comes back."""

import collections
import time

import pytest

from tests.concurrency.harness import (
    CONTEXT,
    TcpProxy,
    Workers,
    counts_match_orders,
    query,
    summarize,
    wait_until,
    worker_env,
)
from tests.support import MARIADB

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

OUTAGE_SECONDS = 3.0  # at least; until every copy has met it
# Two copies stream without pause; one pauses 1.2 s between requests, so its
# connection is idle (> 1 s: pinged before use) when the outage cuts it.
PAUSES = [0.0, 0.0, 1.2]
USER_ID = 5150


def test_creates_answer_503_during_a_database_outage_and_201_after(fresh_database, tmp_path):
    proxy = TcpProxy(MARIADB['port'], MARIADB['host'])
    ready = CONTEXT.Barrier(len(PAUSES) + 1)
    stop = CONTEXT.Event()
    # progress[n]: when copy n's latest answered request started.
    progress = CONTEXT.Array('d', len(PAUSES))
    copies = range(len(PAUSES))
    workers = Workers(
        'stream_creates',
        worker_env(fresh_database, tmp_path, port=proxy.port),
        [
            dict(user_id=USER_ID, ready=ready, stop=stop, pause=pause, progress=progress)
            for pause in PAUSES
        ],
        tmp_path,
    )
    try:
        ready.wait(60)
        time.sleep(1.5)
        cut_at = time.monotonic()
        proxy.close(kill='all')
        closed_at = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        # The outage lasts until every copy has answered a request it made
        # while the database was gone, however slowly the machine runs.
        wait_until(
            lambda: all(progress[n] > closed_at for n in copies),
            'every copy answers a request made during the outage',
        )
        proxy.open()
        back_at = time.monotonic()
        wait_until(
            lambda: all(progress[n] > back_at for n in copies),
            'every copy answers a request made after the outage',
        )
        stop.set()
        outcomes = workers.results(60)
    finally:
        workers.kill()
        proxy.stop()

    answers = [a for outcome in outcomes for a in outcome]
    statuses = collections.Counter(a['status'] for a in answers)
    assert set(statuses) <= {201, 503}, (statuses, workers.logged_errors()[:3])
    unavailable = [a for a in answers if a['status'] == 503]
    assert unavailable, 'the outage was not noticed'
    assert all(
        a['code'] == 'ServiceUnavailable' and a['message'] and a['retry_after'] for a in unavailable
    )
    # A 503 only ever answers a request that was under way during the outage.
    assert all(a['ended'] >= cut_at and a['started'] <= back_at for a in unavailable), [
        (a['started'] - cut_at, a['ended'] - cut_at) for a in unavailable
    ]
    # No answer was slow: none waited out a timeout (the database was down,
    # never silent: every connection was cut or refused at once), and none
    # retried its connection; each request made one attempt at most.
    assert not [a for a in answers if a['db_timeouts']], [
        (a['status'], a['db_timeout_limits']) for a in answers if a['db_timeouts']
    ]
    assert max(a['db_connects'] for a in answers) <= 1, collections.Counter(
        a['db_connects'] for a in answers
    )
    # Every copy serves again, without a restart, once the database is back.
    for n, outcome in enumerate(outcomes):
        after = [a for a in outcome if a['started'] > back_at]
        assert after and all(a['status'] == 201 for a in after), (n, after[:3])
        assert any(a['status'] == 503 for a in outcome), n

    # Nothing half-written: each order has its items and its event; every
    # 201 names an order that exists.
    orders = {
        order_id: (items, events)
        for order_id, items, events in query(
            fresh_database,
            'SELECT o.order_id, (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.order_id),'
            ' (SELECT COUNT(*) FROM outbox e WHERE e.order_id = o.order_id'
            "  AND e.event_type = 'order_created') FROM orders o",
        )
    }
    half_written = {k: v for k, v in orders.items() if v != (2, 1)}
    assert not half_written
    created = [a['order_id'] for a in answers if a['status'] == 201]
    assert len(set(created)) == len(created)
    assert set(created) <= set(orders)
    orphans = query(
        fresh_database,
        'SELECT COUNT(*) FROM outbox WHERE order_id NOT IN (SELECT order_id FROM orders)',
    )[0][0]
    assert orphans == 0
    consistent, counted, actual = counts_match_orders(fresh_database)
    assert consistent, (counted, actual)
    summarize(
        'database outage',
        answers,
        processes=len(PAUSES),
        outage_s=round(back_at - cut_at, 3),
        proxy_connections=proxy.connections,
        orders_stored=len(orders),
        answered_201=len(created),
        committed_but_answered_503=len(orders) - len(created),
        slowest_503_s=round(max(a['seconds'] for a in unavailable), 3),
        first_201_after_back_s=[
            round(
                min(
                    (a['started'] for a in o if a['status'] == 201 and a['started'] > back_at),
                    default=float('nan'),
                )
                - back_at,
                3,
            )
            for o in outcomes
        ],
    )


def test_an_idle_copy_answers_503_within_10_s_when_the_database_stops_answering(
    fresh_database, tmp_path
):
    proxy = TcpProxy(MARIADB['port'], MARIADB['host'])
    ready = CONTEXT.Barrier(2)
    go = CONTEXT.Event()
    stop = CONTEXT.Event()
    # Warm up; once the partition is in place (go), sit idle for just over the
    # 1 s after which the connection is pinged before use, then one create.
    workers = Workers(
        'stream_creates',
        worker_env(fresh_database, tmp_path, port=proxy.port),
        [dict(user_id=USER_ID, ready=ready, go=go, stop=stop, pause=1.1, limit=2)],
        tmp_path,
    )
    try:
        ready.wait(60)
        proxy.close(kill='blackhole')
        cut_at = time.monotonic()
        go.set()
        [answers] = workers.results(60)
    finally:
        workers.kill()
        proxy.stop()
    [answer] = [a for a in answers if a['phase'] == 'stream']
    summarize(
        'database partition (idle copy)',
        answers,
        partition_s=round(time.monotonic() - cut_at, 1),
        answer=(answer['status'], answer['code'], round(answer['seconds'], 2)),
        waited_out=answer['db_timeout_limits'],
        connects=answer['db_connects'],
        parked_connections=proxy.parked_connections,
    )
    assert answer['started'] > cut_at
    assert answer['status'] == 503 and answer['code'] == 'ServiceUnavailable'
    # How long it took is bounded by what it waited on: one timeout, its
    # ping's on the connection it had (well under 10 s), and no connection
    # attempt into the partition (that would wait out a connect timeout too).
    assert answer['db_connects'] == 0 and proxy.parked_connections == 0
    assert answer['db_timeouts'] == 1, answer['db_timeout_limits']
    assert all(limit is not None and limit < 10 for limit in answer['db_timeout_limits'])
