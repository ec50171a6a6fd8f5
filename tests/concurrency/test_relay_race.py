"""Concurrency: relays running side by side (three Lambda copies of the
scheduled outbox_relay) publish each pending event exactly once."""

import collections
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.concurrency.harness import CONTEXT, insert_pending_events, query, run_workers, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

# Twelve claims of RELAY_CLAIM (100) rows: after the barrier has made the first
# claims overlap, each relay still claims three or four times, every claim
# racing the other two for the next slice of pending rows.
EVENTS = 1200
RELAYS = 3


def test_three_relays_at_once_publish_each_event_exactly_once(
    fresh_database, make_topic, moto_server, tmp_path
):
    topic = make_topic()
    created_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=2)
    event_ids = insert_pending_events(fresh_database, EVENTS, created_at)
    env = worker_env(
        fresh_database,
        tmp_path,
        SNS_TOPIC_ARN=topic.arn,
        AWS_ENDPOINT_URL=f'http://127.0.0.1:{moto_server.port}',
    )
    barrier = CONTEXT.Barrier(RELAYS)
    # Each relay stops at its first SNS call, its first claim held, until all
    # of them hold one: the claims overlap whatever the machine's speed.
    all_claimed = CONTEXT.Barrier(RELAYS)

    # Time enough for each relay to publish everything, whatever the
    # machine's speed: this is about who publishes what, not how fast.
    outcomes = run_workers(
        'relay_once',
        env,
        [dict(barrier=barrier, proceed=all_claimed, timeout_seconds=600) for _ in range(RELAYS)],
        tmp_path,
        timeout=600,
    )

    envelopes = topic.envelopes()
    seen = collections.Counter(json.loads(e['Message'])['event_id'] for e in envelopes)
    duplicated = {event_id: n for event_id, n in seen.items() if n > 1}
    lost = set(event_ids) - set(seen)
    rows = query(fresh_database, 'SELECT event_id, published_at, sns_message_id FROM outbox')
    unmarked = [
        event_id
        for event_id, published_at, message_id in rows
        if published_at is None or not message_id
    ]
    message_ids = {json.loads(e['Message'])['event_id']: e['MessageId'] for e in envelopes}
    mismatched = [
        event_id
        for event_id, _, message_id in rows
        if message_id and message_ids.get(event_id) != message_id
    ]
    published = [outcome['published'] for outcome in outcomes]
    spans = [round(outcome['ended'] - outcome['started'], 2) for outcome in outcomes]
    print(
        '\nSCENARIO '
        + json.dumps(
            {
                'scenario': 'relay race',
                'events': EVENTS,
                'relays': RELAYS,
                'published_by_relay': published,
                'relay_seconds': spans,
                'messages_on_queue': len(envelopes),
                'lost': len(lost),
                'duplicated': len(duplicated),
                'unmarked_rows': len(unmarked),
            }
        )
    )

    assert not duplicated, f'{len(duplicated)} events published more than once'
    assert not lost, f'{len(lost)} events never published'
    assert sum(published) == EVENTS
    assert min(published) > 0, 'the relays did not overlap'
    assert not unmarked and not mismatched
