"""The PaymentIntents of orders that went (cancelled, expired, deleted)
before anybody paid them, cancelled at Stripe so that nobody pays for an
order that is gone. Each one's row is written with the order's change
(orders/service.record_intent_cancellation) and claimed by its writer for
INTENT_CLAIM: the writer tries at once after the commit; what Stripe did
not take is freed for the refund relay's next run, which takes lapsed rows
under a claim of its own (FOR UPDATE SKIP LOCKED), as it takes refunds.

Cancelling twice is harmless (Stripe refuses the second), so a claim is a
time, not a token. Stripe refusing (the intent already cancelled, or
succeeded: its webhook is a late payment, refunded) ends the row too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.core.clock import utcnow
from chalicelib.core.errors import (
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    PaymentsNotConfigured,
)
from chalicelib.orders.service import INTENT_CLAIM
from chalicelib.payments.gateway import BACKGROUND, REQUEST, StripeGateway
from chalicelib.platform.logs import log
from chalicelib.storage import dialect
from chalicelib.storage.connection import CONNECTION_ERRORS, database, discard_if_broken
from chalicelib.storage.models import IntentCancellation

RELAY_CLAIM = 10


class IntentCancellations:
    def __init__(
        self, gateway: Callable[[], StripeGateway | None], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.gateway = gateway  # None: Stripe is not configured
        self.clock = clock

    def send(self, payment_intent_ids: list[str], purpose: str = REQUEST) -> int:
        """Cancel each claimed intent at Stripe; never raises. What Stripe did
        not take is free for the relay's next run. How many are done."""
        done = 0
        for index, intent_id in enumerate(payment_intent_ids):
            try:
                self._cancel(intent_id, purpose)
            except (PaymentProviderUnavailable, PaymentsNotConfigured):
                # The rest are not tried now: Stripe is down for them too.
                self._free(payment_intent_ids[index:])
                log.warning(
                    'PaymentIntent %s left to the refund relay: Stripe unavailable', intent_id
                )
                break
            except CONNECTION_ERRORS as exc:
                discard_if_broken(exc)  # the claim lapses by itself
                log.warning('PaymentIntent %s not cancelled: database unavailable', intent_id)
                break
            done += 1
        return done

    def _cancel(self, intent_id: str, purpose: str) -> None:
        gateway = self.gateway()
        if gateway is None:
            raise PaymentsNotConfigured()
        try:
            gateway.cancel_payment_intent(intent_id, purpose)
            log.info('PaymentIntent %s cancelled: its order is gone', intent_id)
        except PaymentProviderRefused:
            # Already cancelled, or succeeded (its webhook refunds it as a late payment).
            log.info('PaymentIntent %s not cancelled: Stripe has it cancelled or paid', intent_id)
        IntentCancellation.delete().where(
            IntentCancellation.payment_intent_id == intent_id
        ).execute()

    def _free(self, payment_intent_ids: list[str]) -> None:
        try:
            IntentCancellation.update(claimed_until=self.clock()).where(
                IntentCancellation.payment_intent_id.in_(payment_intent_ids)
            ).execute()
        except CONNECTION_ERRORS as exc:
            discard_if_broken(exc)  # the claim lapses by itself

    def relay(self, time_left: Callable[[], float]) -> int:
        """Cancel the intents whose claim lapsed (their writer could not reach
        Stripe, or died); how many are done. The first batch always, the
        next ones while time_left() is positive."""
        cancelled = 0
        while True:
            claimed = self._claim_lapsed(self.clock())
            if not claimed:
                break
            done = self.send(claimed, BACKGROUND)
            cancelled += done
            if len(claimed) < RELAY_CLAIM or done < len(claimed) or time_left() <= 0:
                break
        return cancelled

    def _claim_lapsed(self, now: datetime) -> list[str]:
        with database.atomic():
            rows = list(
                dialect.skip_locked(
                    IntentCancellation.select(
                        IntentCancellation.cancellation_id, IntentCancellation.payment_intent_id
                    )
                    .where(IntentCancellation.claimed_until <= now)
                    .order_by(IntentCancellation.claimed_until)
                    .limit(RELAY_CLAIM)
                )
            )
            if rows:
                IntentCancellation.update(claimed_until=now + INTENT_CLAIM).where(
                    IntentCancellation.cancellation_id.in_([row.cancellation_id for row in rows])
                ).execute()
        return [row.payment_intent_id for row in rows]
