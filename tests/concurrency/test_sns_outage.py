"""SNS outages under load: creates keep answering 201 and every order's
event reaches the topic once SNS is back (by the relay); and the relay,
while it talks to a slow SNS, must not hold up the orders being created."""
import collections
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.concurrency.conftest import worker_env
from tests.concurrency.harness import (CONTEXT, TcpProxy, Workers, query,
                                       run_workers, summarize, unlocked, wait_until)
from tests.concurrency.test_relay_race import insert_pending_events

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 3
USER_ID = 6160
OLD_EVENTS = 40
FIRST_OLD_ID = 10 ** 9  # order ids of their own, far from the created orders'
CREATES_DURING_CLAIM = 5


def test_creates_answer_201_through_an_sns_outage_and_the_relay_catches_up(
        fresh_database, make_topic, moto_server, tmp_path):
    topic = make_topic()
    # The copies reach SNS through a proxy; closing it refuses new connections
    # and cuts each kept-alive one at its next request (so no publish that
    # reached SNS loses its answer: that would be a legitimate duplicate).
    sns = TcpProxy(moto_server.port)
    env = worker_env(fresh_database, tmp_path, SNS_TOPIC_ARN=topic.arn,
                     AWS_ENDPOINT_URL=f'http://127.0.0.1:{sns.port}')
    ready = CONTEXT.Barrier(PROCESSES + 1)
    stop = CONTEXT.Event()
    # progress[n]: when copy n's latest answered request started.
    progress = CONTEXT.Array('d', PROCESSES)
    copies = range(PROCESSES)
    workers = Workers('stream_creates', env,
                      [dict(user_id=USER_ID, ready=ready, stop=stop, pause=0.01,
                            progress=progress) for _ in copies], tmp_path)
    try:
        ready.wait(60)
        time.sleep(1.0)
        cut_at = time.monotonic()
        sns.close(kill='next-request')
        closed_at = time.monotonic()
        time.sleep(2.5)
        # SNS stays away until every copy has answered a create made meanwhile.
        wait_until(lambda: all(progress[n] > closed_at for n in copies),
                   'every copy answers a create made during the outage')
        sns.open()
        back_at = time.monotonic()
        wait_until(lambda: all(progress[n] > back_at for n in copies),
                   'every copy answers a create made after the outage')
        stop.set()
        outcomes = workers.results(60)
    finally:
        workers.kill()
    answers = [a for outcome in outcomes for a in outcome]
    pending_before_relay = query(
        fresh_database, 'SELECT COUNT(*) FROM outbox WHERE published_at IS NULL')[0][0]

    [relayed] = run_workers('relay_once', env, [dict()], tmp_path)
    sns.stop()

    statuses = collections.Counter(a['status'] for a in answers)
    assert set(statuses) == {201}, statuses
    orders = [order_id for order_id, in query(
        fresh_database, 'SELECT order_id FROM orders WHERE user_id = %s', (USER_ID,))]
    assert sorted(a['order_id'] for a in answers) == sorted(orders)
    created = collections.Counter(
        e['order_id'] for e in topic.events() if e['event_type'] == 'order_created')
    missing = set(orders) - set(created)
    duplicated = {order_id: n for order_id, n in created.items() if n > 1}
    unmarked = query(fresh_database, 'SELECT COUNT(*) FROM outbox '
                     'WHERE published_at IS NULL OR sns_message_id IS NULL')[0][0]
    during = [a for a in answers if cut_at <= a['started'] <= back_at]
    failed = [a for a in answers if a['sns_failed_calls']]
    summarize('sns outage', answers, processes=PROCESSES,
              during_outage=len(during),
              slowest_during_outage_s=round(max(
                  (a['seconds'] for a in during), default=0.0), 3),
              failed_sns_calls=sum(a['sns_failed_calls'] for a in answers),
              sns_attempts_of_failed_calls=[a['sns_attempts'] for a in failed],
              created_with_breaker_open=sum(1 for a in answers if a['breaker_open']),
              pending_before_relay=pending_before_relay,
              relay_published=relayed['published'],
              orders=len(orders), events_missing=len(missing),
              events_duplicated=len(duplicated), unmarked_rows=unmarked)
    assert pending_before_relay > 0, 'the outage left nothing to the relay'
    assert not missing and not duplicated and unmarked == 0
    # Why no create was slowed down by the outage: every copy met it with one
    # failed SNS call, which opened its breaker, and no request made an SNS
    # call while the breaker was open; no SNS attempt waited out a timeout
    # (the connections were refused or cut at once).
    assert all(a['breaker_open'] is not None for a in answers)
    for n, outcome in enumerate(outcomes):
        assert [a for a in outcome if a['sns_failed_calls']], f'copy {n} never met the outage'
    assert all(not a['breaker_open'] and a['breaker_open_after'] and a['sns_calls'] == 1
               for a in failed), failed[:3]
    opened = [a for a in answers if a['breaker_open']]
    assert opened, 'no request found the breaker open'
    assert all(a['sns_calls'] == 0 and a['sns_attempts'] == 0 for a in opened), [
        (a['sns_calls'], a['sns_attempts']) for a in opened if a['sns_calls']][:3]
    assert sum(a['sns_timeouts'] for a in answers) == 0


def test_a_relay_talking_to_a_slow_sns_does_not_hold_up_creates(
        fresh_database, make_topic, moto_server, tmp_path):
    topic = make_topic()
    slow_sns = TcpProxy(moto_server.port, delay=0.5)  # 0.5 s per SNS call
    old = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=2)
    insert_pending_events(fresh_database, OLD_EVENTS, old, first_order_id=FIRST_OLD_ID)
    env = worker_env(fresh_database, tmp_path, SNS_TOPIC_ARN=topic.arn,
                     AWS_ENDPOINT_URL=f'http://127.0.0.1:{moto_server.port}')
    creators = 2
    ready = CONTEXT.Barrier(creators + 1)
    stop = CONTEXT.Event()
    # The relay stops at its first SNS call, its claim transaction open
    # (claimed), until the test lets it go on (proceed): an SNS call that
    # takes as long as the test needs.
    claimed, proceed = CONTEXT.Event(), CONTEXT.Event()
    creator = USER_ID + 1
    params = [dict(user_id=creator, ready=ready, stop=stop, pause=0.01)
              for _ in range(creators)]
    # The scheduled relay, as deployed: rows younger than 60 s are left to
    # the requests that wrote them.
    params.append(dict(task='relay_once', barrier=ready, start_after=1.0,
                       min_age_seconds=60, stop=stop, claimed=claimed, proceed=proceed,
                       env={'AWS_ENDPOINT_URL': f'http://127.0.0.1:{slow_sns.port}'}))
    old_rows = ('SELECT id FROM outbox WHERE order_id >= %s AND published_at IS NULL',
                (FIRST_OLD_ID,))
    workers = Workers('stream_creates', env, params, tmp_path)
    try:
        wait_until(claimed.is_set, 'the relay claims the old events and calls SNS')
        locked_at_claim = OLD_EVENTS - len(unlocked(fresh_database, *old_rows))
        created_at_claim = _orders_of(fresh_database, creator)
        # While the relay holds its claim, creates go on committing.
        wait_until(lambda: _orders_of(fresh_database, creator)
                   >= created_at_claim + CREATES_DURING_CLAIM,
                   f'{CREATES_DURING_CLAIM} creates commit while the relay holds its claim')
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
    summarize('relay on a slow sns beside creates', answers, processes=creators + 1,
              relay_published=relay['published'],
              relay_seconds=round(relay['ended'] - relay['started'], 2),
              old_events_locked_by_the_relay=[locked_at_claim, locked_after],
              creates_committed_during_the_claim=created_during_claim)
    assert created_during_claim >= CREATES_DURING_CLAIM
    assert relay['published'] == OLD_EVENTS
    assert {a['status'] for a in answers} == {201}
    published = [e['event_id'] for e in topic.events()
                 if e['order_id'] >= FIRST_OLD_ID]
    assert len(published) == len(set(published)) == OLD_EVENTS


def _orders_of(database, user_id):
    return query(database, 'SELECT COUNT(*) FROM orders WHERE user_id = %s',
                 (user_id,))[0][0]
