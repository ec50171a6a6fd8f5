"""What the service keeps, and for how long: idempotency keys 24 hours after
they were taken, the notifier's processed event ids and the Stripe event
ids handled 14 days, published
outbox rows OUTBOX_RETENTION_DAYS. The scheduled housekeeping deletes what is
older, one bounded batch at a time.

A batch reads the primary keys of up to `batch` old rows (a plain read,
which locks nothing) and deletes those rows by key in a statement of its own:
it holds locks on the rows it deletes and on nothing else, never on a whole
table, and it never touches the orders."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import peewee

from chalicelib.core.clock import utcnow
from chalicelib.storage.models import IdempotencyKey, Outbox, ProcessedEvent, StripeEvent

BATCH = 500
# Longer than an SQS message can live (14 days, in the dead-letter queue
# too): a redelivered event always still finds its id.
PROCESSED_EVENT_TTL = timedelta(days=14)
# One batch may wait out a MariaDB read timeout (5 s); what is left after
# that is kept for logging and answering (clock.time_left sizes it down for
# a run given less time).
MARGIN_SECONDS = 10


@dataclass(frozen=True)
class Rule:
    table: str
    model: type[peewee.Model]
    since: peewee.Field  # a row's age counts from this column
    kept: timedelta

    def delete_batch(self, now: datetime, batch: int) -> int:
        """Delete up to `batch` rows past their time; how many were old."""
        before = now - self.kept
        # Every table kept here has a one-column key (the stubs allow False:
        # a model without any).
        key = cast(peewee.Field, self.model._meta.primary_key)
        # .tuples() yields one 1-tuple per row; peewee's stubs say it yields models.
        rows = cast(
            Iterable[tuple[object]],
            self.model.select(key)
            .where(self.since < before)
            .order_by(self.since)
            .limit(batch)
            .tuples(),
        )
        keys = [value for (value,) in rows]
        if keys:
            self.model.delete().where(key.in_(keys) & (self.since < before)).execute()
        return len(keys)


def rules(outbox_retention: timedelta, key_ttl: timedelta) -> list[Rule]:
    """key_ttl: how long the order domain honours an Idempotency-Key."""
    return [
        Rule('idempotency_keys', IdempotencyKey, IdempotencyKey.created_at, key_ttl),
        Rule('processed_events', ProcessedEvent, ProcessedEvent.processed_at, PROCESSED_EVENT_TTL),
        # Stripe retries an event for three days: a redelivery always finds its id.
        Rule('stripe_events', StripeEvent, StripeEvent.processed_at, PROCESSED_EVENT_TTL),
        # A pending event has no published_at: it is never deleted.
        Rule('outbox', Outbox, Outbox.published_at, outbox_retention),
    ]


def clean_up(
    outbox_retention: timedelta,
    key_ttl: timedelta,
    time_left: Callable[[], float],
    clock: Callable[[], datetime] = utcnow,
    batch: int = BATCH,
) -> dict[str, int]:
    """Delete what is past its time, a batch from each table in turn (a
    backlog in one never starves the others), until nothing old is left or
    time_left() is no longer positive; the rows found old, by table. The
    first batch goes whatever time_left() says: a run always does some work."""
    now = clock()
    pending = rules(outbox_retention, key_ttl)
    deleted = {rule.table: 0 for rule in pending}
    first = True
    while pending:
        for rule in list(pending):
            if not first and time_left() <= 0:
                return deleted
            first = False
            found = rule.delete_batch(now, batch)
            deleted[rule.table] += found
            if found < batch:
                pending.remove(rule)
    return deleted
