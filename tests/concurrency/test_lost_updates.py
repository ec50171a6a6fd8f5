"""Concurrency: two PUTs with the same If-Match, exactly one wins (no lost
update), and each order's history holds exactly one entry per version, with
several Lambda copies (processes) on MariaDB."""

import collections
import itertools
import json

import pytest

from chalicelib.orders.lifecycle import TRANSITIONS
from tests.concurrency.harness import (
    CONTEXT,
    counts_match_orders,
    query,
    run_workers,
    summarize,
    worker_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

PROCESSES = 4
ORDERS_EACH = 16
ROUNDS = 3
USER_ID = 4242


EVENT_OF_STATUS = {'shipped': 'order_shipped', 'cancelled': 'order_cancelled'}


def _history(database):
    """Each order's status events, oldest first: [(event_type, status)]. Not
    the order_refunded of a paid order's cancellation: its refund of a
    payment taken outside succeeds within the cancellation."""
    events = collections.defaultdict(list)
    for order_id, event_type, body in query(
        database,
        'SELECT order_id, event_type, body FROM outbox '
        "WHERE event_type <> 'order_refunded' ORDER BY id",
    ):
        events[order_id].append((event_type, json.loads(body)['status']))
    return events


def _entries(database):
    """Each order's history rows as stored, by version: [(version, status, role)]."""
    entries = collections.defaultdict(list)
    for order_id, version, status, role in query(
        database,
        'SELECT order_id, version, status, actor_role FROM order_history '
        'ORDER BY order_id, version, id',
    ):
        entries[order_id].append((version, status, role))
    return entries


def test_racing_if_match_puts_never_lose_an_update(fresh_database, tmp_path):
    barrier = CONTEXT.Barrier(PROCESSES)
    outcomes = run_workers(
        'race_status_changes',
        worker_env(fresh_database, tmp_path),
        [
            dict(user_id=USER_ID, orders_each=ORDERS_EACH, rounds=ROUNDS, barrier=barrier, seed=7)
            for _ in range(PROCESSES)
        ],
        tmp_path,
    )

    creates = [a for outcome in outcomes for a in outcome['created']]
    puts = [a for outcome in outcomes for a in outcome['answers']]
    order_ids = outcomes[0]['order_ids']
    assert {a['status'] for a in creates} == {201}
    assert len(order_ids) == PROCESSES * ORDERS_EACH

    # Refusals are only 412 (someone else moved first) or 409 (a forbidden move).
    statuses = collections.Counter(a['status'] for a in puts)
    assert set(statuses) <= {200, 409, 412}, statuses
    refusals = [a for a in puts if a['status'] != 200]
    assert all(a['code'] and a['message'] for a in refusals)
    assert all(
        a['intent'] == 'forbidden' or a['intent'] == 'blind' for a in refusals if a['status'] == 409
    )
    assert all(a['if_match'] is not None for a in refusals if a['status'] == 412)

    # Two PUTs with the same If-Match: never both change the order.
    guarded = [a for a in puts if a['status'] == 200 and a['if_match'] is not None]
    changes = [a for a in guarded if a['version'] == a['if_match'] + 1]
    assert all(a['version'] in (a['if_match'], a['if_match'] + 1) for a in guarded)
    assert all(a['intent'] == 'move' for a in changes)
    winners = collections.Counter((a['id'], a['if_match']) for a in changes)
    assert max(winners.values()) == 1, [k for k, n in winners.items() if n > 1]

    stored = {
        order_id: (status, version)
        for order_id, status, version in query(
            fresh_database,
            'SELECT order_id, status, version FROM orders WHERE user_id = %s',
            (USER_ID,),
        )
    }
    history = _history(fresh_database)
    entries = _entries(fresh_database)
    ok_answers = collections.defaultdict(list)
    for answer in puts:
        if answer['status'] == 200:
            ok_answers[answer['id']].append(answer)

    broken = []
    for order_id in order_ids:
        status, version = stored[order_id]
        events = history[order_id]
        # Every version bump is a 200 some client got, with that version's status ...
        reported = {a['version'] for a in ok_answers[order_id]} - {1}
        # ... one event per change, the first the creation, and a legal lifecycle.
        chain = [s for _, s in events]
        legal = all(new in TRANSITIONS[old] for old, new in itertools.pairwise(chain))
        kinds_ok = events[:1] == [('order_created', 'pending')] and all(
            kind == EVENT_OF_STATUS.get(s, 'order_updated') for kind, s in events[1:]
        )
        statuses_ok = all(
            chain[a['version'] - 1] == a['order_status']
            for a in ok_answers[order_id]
            if a['version'] <= len(chain)
        )
        # ... and its history: exactly one entry per version, 1..n, each with
        # the status of that version's event, written by the staff caller.
        recorded = entries[order_id]
        history_ok = (
            [v for v, _, _ in recorded] == list(range(1, version + 1))
            and [s for _, s, _ in recorded] == chain
            and {role for _, _, role in recorded} == {'staff'}
        )
        if not (
            reported == set(range(2, version + 1))
            and len(events) == version
            and chain[-1] == status
            and legal
            and kinds_ok
            and statuses_ok
            and history_ok
        ):
            broken.append(
                {
                    'order_id': order_id,
                    'version': version,
                    'status': status,
                    'reported_versions': sorted(reported),
                    'events': events,
                    'history': recorded,
                }
            )
    assert not broken, broken

    consistent, counted, actual = counts_match_orders(fresh_database)
    assert consistent, (counted, actual)
    bumps = sum(version - 1 for _, version in stored.values())
    summarize(
        'lost updates',
        creates + puts,
        processes=PROCESSES,
        orders=len(order_ids),
        gets=len(puts),
        version_bumps=bumps,
        if_match_winners=len(changes),
        outbox_events=sum(len(e) for e in history.values()),
        history_entries=sum(len(e) for e in entries.values()),
        events_lost=0,
        events_duplicated=0,
    )
