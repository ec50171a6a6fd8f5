"""The outbox relay: publishes whatever requests left in the outbox (after a
crash, a timeout, an SNS outage). Runs on a schedule and by hand."""
import time
from datetime import timedelta

from chalicelib import metrics
from chalicelib.clock import utcnow
from chalicelib.events import outbox
from chalicelib.storage.connection import database

SNS_BATCH = 10  # PublishBatch takes at most 10 entries
# The relay leaves alone rows younger than this: the request that wrote them
# is publishing them right now, and two publishers would send them twice.
RELAY_MIN_AGE = timedelta(seconds=60)


def relay(publisher, clock=utcnow, min_age=RELAY_MIN_AGE, time_budget=40.0):
    """Publish every pending event, oldest first; return how many were published.

    Each transaction claims a slice of pending rows, so relays running side by
    side never publish the same row. It stops when a slice publishes nothing
    (SNS is down: the next run tries again) or when its time budget, well
    inside the function's timeout, is spent."""
    now = clock()
    _report_pending_age(now)
    stop_at = time.monotonic() + time_budget
    total = 0
    while time.monotonic() < stop_at:
        outbox.read_committed()
        with database.atomic():
            claimed = outbox.claim(now - min_age)
            published = []
            for start in range(0, len(claimed), SNS_BATCH):
                batch = publisher.publish_batch(claimed[start:start + SNS_BATCH])
                if not batch:
                    break  # SNS is down: let go of the claim, the next run retries
                published += batch
            if published:
                outbox.mark_published(published, clock())
        total += len(published)
        if len(claimed) < outbox.RELAY_CLAIM or not published:
            break
    if total:
        metrics.emit('EventsPublished', total)
    return total


def _report_pending_age(now):
    oldest = outbox.oldest_pending()
    age = (now - oldest).total_seconds() if oldest else 0.0
    metrics.emit('OutboxPendingAgeSeconds', max(age, 0.0), unit='Seconds')
