"""The outbox table: an event row written in the change's own transaction,
marked once it is published, claimed by the relay (housekeeping deletes
published rows after their retention: storage/retention.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import peewee

from chalicelib.events import messages, queries
from chalicelib.platform.logs import log
from chalicelib.storage import dialect, statements
from chalicelib.storage.connection import CONNECTION_ERRORS, discard_if_broken
from chalicelib.storage.models import Order, Outbox

RELAY_CLAIM = 100  # rows one relay transaction claims
# The request that wrote an event publishes it right after its commit (one
# SNS attempt of about a second at most); until this long after the change the
# relay leaves the row to it. A request that gives up sooner hands the row
# over, and the relay's next run takes it at once.
PUBLISH_LEASE = timedelta(seconds=10)


def record_event(
    event_type: str, order: Order, moment: datetime, details: messages.Details | None = None
) -> Outbox:
    """Insert the event into the outbox; call inside the change's transaction.
    `details`: what this event type adds to the body (messages.py)."""
    event_id = str(uuid.uuid4())
    row = Outbox(
        event_id=event_id,
        event_type=event_type,
        order_id=order.order_id,
        subject=messages.SUBJECTS[event_type],
        body=json.dumps(
            messages.event_body(event_id, event_type, order, moment, details), separators=(',', ':')
        ),
        created_at=moment,
        relay_after=moment + PUBLISH_LEASE,
    )
    row.id = statements.insert_instance(row)
    return row


def mark_published(
    published: Sequence[tuple[Outbox, str | None]],
    now: datetime,
    execute: Callable[..., object] = statements.run,
) -> None:
    """published: [(row, sns_message_id or None)]."""
    for row, message_id in published:
        execute(queries.MARK_PUBLISHED, published_at=now, sns_message_id=message_id, id=row.id)


def mark_published_quietly(published: Sequence[tuple[Outbox, str | None]], now: datetime) -> None:
    """After a request's commit: the mark is sent, not waited for
    (statements.send), so the request pays one commit, its change's; the
    server commits the mark while the request answers. A mark that never
    lands (the copy died before sending it, the connection broke, the
    statement failed) leaves the event pending: once its lease is over the
    relay publishes it again, one repeat of each such event."""
    _quietly(
        lambda: mark_published(published, now, execute=statements.send), 'mark events published'
    )


def hand_to_relay_quietly(rows: Sequence[Outbox]) -> None:
    """The request will not publish these rows: the relay may take them now."""
    # Not handed over, still leased: the relay takes them once PUBLISH_LEASE is over.
    _quietly(
        lambda: statements.run(queries.HAND_TO_RELAY, id=[row.id for row in rows]),
        'hand events to the relay',
    )


def _quietly(write: Callable[[], object], what: str) -> None:
    """A request's after-commit bookkeeping: a failure never reaches the
    request. A broken connection is dropped; a busy one is kept."""
    try:
        write()
    except CONNECTION_ERRORS as exc:
        discard_if_broken(exc)
        log.warning('Could not %s: %s', what, exc)


def claim(now: datetime) -> list[Outbox]:
    """Pending rows no request is publishing any more, oldest first; inside a
    transaction, locked so that relays running side by side skip each
    other's rows (on SQLite the transaction holds the database's write lock)."""
    query = (
        Outbox.select()
        .where(
            Outbox.published_at.is_null()
            & (Outbox.relay_after.is_null() | (Outbox.relay_after <= now))
        )
        .order_by(Outbox.id)
        .limit(RELAY_CLAIM)
    )
    return list(dialect.skip_locked(query))


def read_committed() -> None:
    """The claim transaction stays open while SNS answers. Under MariaDB's
    REPEATABLE READ its scan would also lock the young rows it passes over and
    the gap after the last one, so every create's outbox INSERT would wait for
    SNS; READ COMMITTED locks only the rows claimed. Call before the
    transaction begins."""
    dialect.read_committed()


def oldest_pending() -> datetime | None:
    oldest = (
        Outbox.select(peewee.fn.MIN(Outbox.created_at))
        .where(Outbox.published_at.is_null())
        .scalar()
    )
    if isinstance(oldest, str):  # SQLite hands back an aggregate as text
        oldest = datetime.fromisoformat(oldest)
    return oldest
