"""The outbox relay: publishes whatever requests left in the outbox (after a
crash, a timeout, an SNS outage). Runs on a schedule and by hand."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.core.clock import utcnow
from chalicelib.events import outbox
from chalicelib.platform import metrics
from chalicelib.storage.connection import database

SNS_BATCH = 10  # PublishBatch takes at most 10 entries
# What one PublishBatch may take at its slowest (3 attempts of a 2 s connect
# and a 5 s read, and the back-off between them), and the commit after it:
# the scheduled relay starts no further batch with less time left than this
# (or than half its time, when it was given less than twice this).
RELAY_MARGIN_SECONDS = 30


def relay(
    publisher: Any, time_left: Callable[[], float], clock: Callable[[], datetime] = utcnow
) -> int:
    """Publish every pending event no request is still publishing, oldest
    first; return how many were published.

    Each transaction claims a slice of pending rows, so relays running side by
    side never publish the same row. It stops when a slice publishes nothing
    (SNS is down: the next run tries again) or when time_left() is no longer
    positive; a claim let go unpublished is the next run's. The first claim,
    and the first batch of each claim, go whatever time_left() says: a run
    always publishes something when something is pending."""
    _report_pending_age(clock())
    total = 0
    first = True
    while first or time_left() > 0:
        first = False
        outbox.read_committed()
        with database.atomic():
            claimed = outbox.claim(clock())
            published = []
            for start in range(0, len(claimed), SNS_BATCH):
                if start and time_left() <= 0:
                    break
                batch = publisher.publish_batch(claimed[start : start + SNS_BATCH])
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


def _report_pending_age(now: datetime) -> None:
    oldest = outbox.oldest_pending()
    age = (now - oldest).total_seconds() if oldest else 0.0
    metrics.emit('OutboxPendingAgeSeconds', max(age, 0.0), unit='Seconds')
