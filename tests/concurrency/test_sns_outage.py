"""SNS outages under load: creates keep answering 201 and every order's
event reaches the topic once, by its request or by the very next relay run
once SNS is back; and the relay, while it talks to a slow SNS, must not hold
up the orders being created."""

import collections
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.events.breaker import FAILURES
from tests.concurrency.harness import (
    CONTEXT,
    TcpProxy,
    Workers,
    insert_pending_events,
    query,
    summarize,
    unlocked,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 3
USER_ID = 6160
OLD_EVENTS = 40
FIRST_OLD_ID = 10**9  # order ids of their own, far from the created orders'
CREATES_DURING_CLAIM = 5
# SNS that takes an event but answers after the read timeout makes a
# duplicate the contract allows (at least once); on a loaded test machine moto
# can be that slow, so the creating copies wait longer than production's
# 0.8 s. The outage itself refuses connections: it fails at once all the same.
SNS_READ_TIMEOUT = 10


def test_creates_answer_201_through_an_sns_outage_and_the_next_relay_run_catches_up(
    fresh_database, make_topic, moto_server, tmp_path
):
    topic = make_topic()
    # The copies reach SNS through a proxy; closing it refuses new connections
    # and cuts each kept-alive one at its next request (so no publish that
    # reached SNS loses its answer: that would be a legitimate duplicate).
    sns = TcpProxy(moto_server.port)
    env = worker_env(
        fresh_database,
        tmp_path,
        SNS_TOPIC_ARN=topic.arn,
        AWS_ENDPOINT_URL=f'http://127.0.0.1:{sns.port}',
    )
    ready = CONTEXT.Barrier(PROCESSES + 1)
    stop = CONTEXT.Event()
    done = CONTEXT.Barrier(PROCESSES + 1)
    # progress[n]: when copy n's latest answered request started.
    progress = CONTEXT.Array('d', PROCESSES)
    copies = range(PROCESSES)
    params = [
        dict(
            user_id=USER_ID,
            ready=ready,
            stop=stop,
            pause=0.01,
            progress=progress,
            done=done,
            sns_read_timeout=SNS_READ_TIMEOUT,
        )
        for _ in copies
    ]
    # The relay's next scheduled run, in a copy already up: it starts the
    # moment the last create has answered, SNS being back by then.
    params.append(dict(task='relay_once', barrier=done))
    workers = Workers('stream_creates', env, params, tmp_path)
    try:
        ready.wait(60)
        time.sleep(1.0)
        cut_at = time.monotonic()
        sns.close(kill='next-request')
        closed_at = time.monotonic()
        time.sleep(2.5)
        # SNS stays away until every copy has answered a create made meanwhile.
        wait_until(
            lambda: all(progress[n] > closed_at for n in copies),
            'every copy answers a create made during the outage',
        )
        sns.open()
        back_at = time.monotonic()
        wait_until(
            lambda: all(progress[n] > back_at for n in copies),
            'every copy answers a create made after the outage',
        )
        stop.set()
        *outcomes, relayed = workers.results(60)
    finally:
        workers.kill()
        sns.stop()
    answers = [a for outcome in outcomes for a in outcome]

    statuses = collections.Counter(a['status'] for a in answers)
    assert set(statuses) == {201}, statuses
    created_at = dict(
        query(
            fresh_database, 'SELECT order_id, created_at FROM orders WHERE user_id = %s', (USER_ID,)
        )
    )
    assert sorted(a['order_id'] for a in answers) == sorted(created_at)
    published_at = collections.defaultdict(list)
    for envelope in topic.envelopes():
        event = json.loads(envelope['Message'])
        if event['event_type'] == 'order_created':
            published_at[event['order_id']].append(
                datetime.fromisoformat(envelope['Timestamp']).replace(tzinfo=None)
            )
    missing = set(created_at) - set(published_at)
    duplicated = {order_id: len(at) for order_id, at in published_at.items() if len(at) > 1}
    unmarked = query(
        fresh_database,
        'SELECT COUNT(*) FROM outbox WHERE published_at IS NULL OR sns_message_id IS NULL',
    )[0][0]
    # From the order's created_at (its transaction began; the commit follows
    # within milliseconds) to SNS taking the event, by the request or by the
    # relay: both on this machine's wall clock, measured, not judged.
    delays = sorted(
        (min(at) - created_at[order_id]).total_seconds()
        for order_id, at in published_at.items()
        if order_id in created_at
    )
    during = [a for a in answers if cut_at <= a['started'] <= back_at]
    failed = [a for a in answers if a['sns_failed_calls']]
    summarize(
        'sns outage',
        answers,
        processes=PROCESSES,
        outage_s=round(back_at - cut_at, 3),
        during_outage=len(during),
        slowest_during_outage_s=round(max((a['seconds'] for a in during), default=0.0), 3),
        failed_sns_calls=sum(a['sns_failed_calls'] for a in answers),
        created_with_breaker_open=sum(1 for a in answers if a['breaker_open']),
        left_to_the_relay=relayed['published'],
        relay_started_after_sns_back_s=round(relayed['started'] - back_at, 3),
        orders=len(created_at),
        events_lost=len(missing),
        events_duplicated=len(duplicated),
        unmarked_rows=unmarked,
        commit_to_sns_median_s=round(delays[len(delays) // 2], 3),
        commit_to_sns_longest_s=round(delays[-1], 3),
    )
    assert relayed['published'] > 0, 'the outage left nothing to the relay'
    # The relay ran once, at once, and nothing was left waiting for a later
    # run: every row a request did not publish had been handed over.
    assert not missing and not duplicated and unmarked == 0
    # Why no create was slowed down by the outage: every copy met it with
    # FAILURES failed SNS calls in a row, one attempt each, which opened its
    # breaker; a failed probe opened it again at once; and no request made an
    # SNS call while the breaker was open. No SNS attempt waited out a
    # timeout (the connections were refused or cut at once).
    assert all(a['breaker_open'] is not None for a in answers)
    for n, outcome in enumerate(outcomes):
        runs = _failures_that_opened_the_breaker(outcome)
        assert runs and runs[0] == FAILURES and set(runs[1:]) <= {1}, (n, runs)
    assert all(
        not a['breaker_open'] and a['sns_calls'] == 1 and a['sns_attempts'] == 1 for a in failed
    ), failed[:3]
    opened = [a for a in answers if a['breaker_open']]
    assert opened, 'no request found the breaker open'
    assert all(a['sns_calls'] == 0 and a['sns_attempts'] == 0 for a in opened), [
        (a['sns_calls'], a['sns_attempts']) for a in opened if a['sns_calls']
    ][:3]
    assert sum(a['sns_timeouts'] for a in answers) == 0


def _failures_that_opened_the_breaker(answers):
    """For each time a copy's breaker opened: how many failed SNS calls in a
    row it took (a probe that fails opens it again on its own)."""
    runs, in_a_row = [], 0
    for answer in answers:
        if answer['sns_failed_calls']:
            in_a_row += 1
        elif answer['sns_calls']:
            in_a_row = 0
        if answer['sns_failed_calls'] and answer['breaker_open_after']:
            runs.append(in_a_row)
            in_a_row = 0
    return runs


def test_a_relay_talking_to_a_slow_sns_does_not_hold_up_creates(
    fresh_database, make_topic, moto_server, tmp_path
):
    topic = make_topic()
    slow_sns = TcpProxy(moto_server.port, delay=0.5)  # 0.5 s per SNS call
    old = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=2)
    insert_pending_events(fresh_database, OLD_EVENTS, old, first_order_id=FIRST_OLD_ID)
    env = worker_env(
        fresh_database,
        tmp_path,
        SNS_TOPIC_ARN=topic.arn,
        AWS_ENDPOINT_URL=f'http://127.0.0.1:{moto_server.port}',
    )
    creators = 2
    ready = CONTEXT.Barrier(creators + 1)
    stop = CONTEXT.Event()
    # The relay stops at its first SNS call, its claim transaction open
    # (claimed), until the test lets it go on (proceed): an SNS call that
    # takes as long as the test needs.
    claimed, proceed = CONTEXT.Event(), CONTEXT.Event()
    creator = USER_ID + 1
    params = [
        dict(user_id=creator, ready=ready, stop=stop, pause=0.01, sns_read_timeout=SNS_READ_TIMEOUT)
        for _ in range(creators)
    ]
    # The scheduled relay, as deployed: the rows requests may still be
    # publishing are left to them.
    params.append(
        dict(
            task='relay_once',
            barrier=ready,
            start_after=1.0,
            stop=stop,
            claimed=claimed,
            proceed=proceed,
            env={'AWS_ENDPOINT_URL': f'http://127.0.0.1:{slow_sns.port}'},
        )
    )
    old_rows = (
        'SELECT id FROM outbox WHERE order_id >= %s AND published_at IS NULL',
        (FIRST_OLD_ID,),
    )
    workers = Workers('stream_creates', env, params, tmp_path)
    try:
        wait_until(claimed.is_set, 'the relay claims the old events and calls SNS')
        locked_at_claim = OLD_EVENTS - len(unlocked(fresh_database, *old_rows))
        created_at_claim = _orders_of(fresh_database, creator)
        # While the relay holds its claim, creates go on committing.
        wait_until(
            lambda: _orders_of(fresh_database, creator) >= created_at_claim + CREATES_DURING_CLAIM,
            f'{CREATES_DURING_CLAIM} creates commit while the relay holds its claim',
        )
        locked_after = OLD_EVENTS - len(unlocked(fresh_database, *old_rows))
        created_during_claim = _orders_of(fresh_database, creator) - created_at_claim
        # The claim was open (the relay held every old row locked) from before
        # the first of those creates committed until after the last one.
        assert locked_at_claim == locked_after == OLD_EVENTS, (locked_at_claim, locked_after)
        proceed.set()
        outcomes = workers.results(60)
    finally:
        workers.kill()
        slow_sns.stop()
    relay = outcomes[-1]
    answers = [a for outcome in outcomes[:-1] for a in outcome if a['phase'] == 'stream']
    summarize(
        'relay on a slow sns beside creates',
        answers,
        processes=creators + 1,
        relay_published=relay['published'],
        relay_seconds=round(relay['ended'] - relay['started'], 2),
        old_events_locked_by_the_relay=[locked_at_claim, locked_after],
        creates_committed_during_the_claim=created_during_claim,
    )
    assert created_during_claim >= CREATES_DURING_CLAIM
    assert relay['published'] == OLD_EVENTS
    assert {a['status'] for a in answers} == {201}
    published = [e['event_id'] for e in topic.events() if e['order_id'] >= FIRST_OLD_ID]
    assert len(published) == len(set(published)) == OLD_EVENTS


def _orders_of(database, user_id):
    return query(database, 'SELECT COUNT(*) FROM orders WHERE user_id = %s', (user_id,))[0][0]
