"""Publishing the outbox: right after a commit (best effort), and by the relay
(whatever is left). Publishing is at least once; nothing here ever raises
into a request."""
import time
from datetime import datetime, timedelta, timezone

import peewee

from chalicelib import metrics
from chalicelib.db import (CONNECTION_ERRORS, database, discard_connection,
                          execute_compiled, is_sqlite)
from chalicelib.logs import log
from chalicelib.models import Outbox

SNS_BATCH = 10  # PublishBatch takes at most 10 entries
RELAY_CLAIM = 100  # rows one relay transaction claims
# The relay leaves alone rows younger than this: the request that wrote them
# is publishing them right now, and two publishers would send them twice.
RELAY_MIN_AGE = timedelta(seconds=60)
# After a failed publish, requests stop trying SNS for this long and leave
# their events to the relay, so an SNS outage never slows an order request.
BREAKER_SECONDS = 30.0


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class SnsPublisher:
    def __init__(self, sns_client, topic_arn, clock=utcnow):
        self._client = sns_client  # a callable: the client is made on first use
        self.topic_arn = topic_arn
        self.clock = clock
        self._paused_until = 0.0

    def publish_committed(self, rows):
        """Publish the events a request just committed; never raises."""
        if time.monotonic() < self._paused_until:
            return
        for row in rows:
            try:
                response = self._client().publish(
                    TopicArn=self.topic_arn, Subject=row.subject, Message=row.body,
                    MessageAttributes=_attributes(row))
            except Exception as exc:
                self._paused_until = time.monotonic() + BREAKER_SECONDS
                _publish_failed(row, exc)
                return
            _mark_published_quietly([(row, response['MessageId'])], self.clock())
            metrics.emit('EventsPublished', 1)

    def publish_batch(self, rows):
        """Publish up to 10 rows; return [(row, message_id)] of those SNS took."""
        entries = [{'Id': str(row.id), 'Message': row.body, 'Subject': row.subject,
                    'MessageAttributes': _attributes(row)} for row in rows]
        by_id = {str(row.id): row for row in rows}
        try:
            response = self._client().publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
        except Exception as exc:
            for row in rows:
                _publish_failed(row, exc)
            return []
        for failure in response.get('Failed', []):
            _publish_failed(by_id[failure['Id']],
                            f"{failure.get('Code')}: {failure.get('Message')}")
        return [(by_id[ok['Id']], ok['MessageId'])
                for ok in response.get('Successful', [])]


class LocalPublisher:
    """No SNS topic: hand each event to the notifier in this process."""

    def __init__(self, notifier, clock=utcnow):
        self.notifier = notifier  # a callable returning the notifier
        self.clock = clock

    def publish_committed(self, rows):
        published = self.publish_batch(rows)
        if published:
            _mark_published_quietly(published, self.clock())

    def publish_batch(self, rows):
        published = []
        for row in rows:
            if self.notifier().handle(row.body):
                published.append((row, None))
            else:
                _publish_failed(row, 'the notifier asked for a retry')
        return published


def _attributes(row):
    return {'event_type': {'DataType': 'String', 'StringValue': row.event_type}}


def _publish_failed(row, reason):
    log.warning('Event publish failed: event_id=%s %s', row.event_id, reason,
                extra={'event_id': row.event_id, 'order_id': row.order_id})
    metrics.emit('EventPublishFailures', 1)


def _mark_published(published, now):
    message_ids = [(row.id, message_id) for row, message_id in published]
    ids = [row_id for row_id, _ in message_ids]

    def build():
        return (Outbox.update(published_at=now,
                              sns_message_id=peewee.Case(Outbox.id, message_ids))
                .where(Outbox.id.in_(ids) & Outbox.published_at.is_null()))
    params = ([Outbox.published_at.db_value(now)]
              + [value for pair in message_ids for value in pair] + ids)
    execute_compiled(('mark published', len(ids)), build, params)


def _mark_published_quietly(published, now):
    try:
        _mark_published(published, now)
    except CONNECTION_ERRORS as exc:
        # Still pending: the relay publishes it again (at least once).
        discard_connection()
        log.warning('Could not mark events published: %s', exc)


def relay(publisher, clock=utcnow, min_age=RELAY_MIN_AGE,
          retention=timedelta(days=7), time_budget=40.0):
    """Publish every pending event, oldest first; return how many were published.

    Each transaction claims a slice of pending rows with FOR UPDATE SKIP LOCKED
    (on SQLite the transaction holds the database's write lock), so relays
    running side by side never publish the same row. It stops when a slice
    publishes nothing (SNS is down: the next run tries again) or when its time
    budget, well inside the function's timeout, is spent."""
    now = clock()
    _report_pending_age(now)
    stop_at = time.monotonic() + time_budget
    total = 0
    while time.monotonic() < stop_at:
        _read_committed()
        with database.atomic():
            claimed = list(_claim(now - min_age))
            published = []
            for start in range(0, len(claimed), SNS_BATCH):
                batch = publisher.publish_batch(claimed[start:start + SNS_BATCH])
                if not batch:
                    break  # SNS is down: let go of the claim, the next run retries
                published += batch
            if published:
                _mark_published(published, clock())
        total += len(published)
        if len(claimed) < RELAY_CLAIM or not published:
            break
    if total:
        metrics.emit('EventsPublished', total)
    _purge(now - retention)
    return total


def _read_committed():
    """The claim transaction stays open while SNS answers. Under MariaDB's
    REPEATABLE READ its scan would also lock the young rows it passes over and
    the gap after the last one, so every create's outbox INSERT would wait for
    SNS; READ COMMITTED locks only the rows claimed."""
    if not is_sqlite():
        database.execute_sql('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')


def _claim(created_before):
    query = (Outbox.select()
             .where(Outbox.published_at.is_null() & (Outbox.created_at <= created_before))
             .order_by(Outbox.id)
             .limit(RELAY_CLAIM))
    if not is_sqlite():
        query = query.for_update(skip_locked=True)
    return query


def _report_pending_age(now):
    oldest = (Outbox.select(peewee.fn.MIN(Outbox.created_at))
              .where(Outbox.published_at.is_null()).scalar())
    if isinstance(oldest, str):  # SQLite hands back an aggregate as text
        oldest = datetime.fromisoformat(oldest)
    age = (now - oldest).total_seconds() if oldest else 0.0
    metrics.emit('OutboxPendingAgeSeconds', max(age, 0.0), unit='Seconds')


def _purge(published_before):
    (Outbox.delete()
     .where(Outbox.published_at.is_null(False) & (Outbox.published_at < published_before))
     .execute())
