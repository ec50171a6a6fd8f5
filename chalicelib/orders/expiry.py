"""Unpaid orders expire: `pending` orders older than the payment window are
cancelled by the scheduled function expire_unpaid, as the system, with the
reason `not paid in time`; their stock goes back and `order_cancelled` is
published with its email, like any cancellation.

Each order is one transaction of OrderService.change_status: the order row
is locked, then checked (still pending, still old enough) and changed in the
same step, so an order paid meanwhile is never expired. An order with a
PaymentIntent is first looked up at Stripe (`paid_meanwhile`, from payments/):
one that succeeded there, its webhook late, is applied as its payment instead;
one Stripe did not answer for waits for the next run. Batches are bounded;
the first one always runs (a local or test Lambda context reports 3 s left),
and another starts only while the time left is twice what the last one took."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.clock import monotonic
from chalicelib.identity.principal import SYSTEM, Principal
from chalicelib.orders import queries
from chalicelib.orders.changes import StatusRequest
from chalicelib.platform.logs import log
from chalicelib.storage import statements

EXPIRE_UNPAID = Principal(sub='expire_unpaid', role=SYSTEM)
REASON = 'not paid in time'
BATCH_ORDERS = 100
UNPAID = 'unpaid'  # what paid_meanwhile answers for an intent nobody paid


def expire_unpaid(
    service: Any,
    window: timedelta,
    now: datetime,
    time_left: Callable[[], float],
    paid_meanwhile: Callable[[int, str], str] | None = None,
) -> int:
    """Cancel the pending orders created before now - window; how many.
    paid_meanwhile(order_id, payment_intent_id): 'paid' (applied as its
    payment), 'unpaid' or 'unknown'; None: card payments are not configured."""
    cutoff = now - window
    request = StatusRequest('cancelled', details={'reason': REASON})

    def still_unpaid(order: Any) -> bool:
        return bool(order.status == 'pending' and order.created_at < cutoff)

    expired, after = 0, 0
    while True:
        started = monotonic()
        candidates = statements.fetch(
            queries.PENDING_BEFORE, created_at=cutoff, after=after, limit=BATCH_ORDERS
        )
        for order in candidates:
            if (
                order.payment_intent_id
                and paid_meanwhile is not None
                and paid_meanwhile(order.order_id, order.payment_intent_id) != UNPAID
            ):
                continue
            if (
                service.change_status(
                    EXPIRE_UNPAID, order.order_id, request, still_applies=still_unpaid
                )
                is not None
            ):
                expired += 1
        if len(candidates) < BATCH_ORDERS:
            break
        after = candidates[-1].order_id
        if time_left() < 2 * (monotonic() - started):
            log.info('Expiry stops for want of time; the next run goes on')
            break
    return expired
