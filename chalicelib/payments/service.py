"""Card payments: the PaymentIntent of an order, and what Stripe's webhooks
say happened. Each Stripe event id is handled at most once: the id is
recorded in the same transaction as the change it makes and its outbox row,
so a redelivery finds it and changes nothing, and a failure rolls back both
(Stripe delivers again)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from chalicelib.core import money
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import (
    OrderNotFound,
    PayloadTooLarge,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    PaymentsNotConfigured,
)
from chalicelib.identity.principal import Principal
from chalicelib.orders import changes
from chalicelib.orders.loaders import locked_order, readable_order
from chalicelib.orders.schemas import MAX_BODY_BYTES
from chalicelib.orders.service import apply_change
from chalicelib.payments import access, events, queries, rules
from chalicelib.payments.gateway import StripeGateway
from chalicelib.payments.refunds import (
    Claim,
    RefundService,
    locked_refund,
    order_currency,
    settle_locked,
)
from chalicelib.platform import metrics
from chalicelib.platform.logs import log
from chalicelib.storage import statements
from chalicelib.storage.connection import database, retry_when_busy
from chalicelib.storage.models import Outbox, Refund, StripeEvent

PAYMENT = 'payment'  # the history's role for a change a Stripe event made
# What apply_if_paid found.
PAID, UNPAID, UNKNOWN = 'paid', 'unpaid', 'unknown'


class AlreadyHandled(Exception):
    """This Stripe event id was handled before."""


class _OrderGone(Exception):
    """A payment of this deployment's names an order that is no more."""


class PaymentService:
    def __init__(
        self,
        gateway: Callable[[], StripeGateway | None],
        refunds: RefundService,
        publish: Callable[[list[Outbox]], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.gateway = gateway
        self.refunds = refunds
        self.publish = publish
        self.clock = clock

    def _stripe(self) -> StripeGateway:
        gateway = self.gateway()
        if gateway is None:
            raise PaymentsNotConfigured()
        return gateway

    # -- paying ---------------------------------------------------------------
    def start_payment(self, principal: Principal, order_id: int) -> dict:
        """The order's one PaymentIntent (made on the first call), to confirm
        with a card."""
        order = readable_order(principal, order_id)
        access.check_can_pay(principal)
        rules.check_payable(order_id, order.status, order.order_total)
        gateway = self._stripe()
        currency = order_currency(order)
        if order.payment_intent_id:
            intent = gateway.payment_intent(order.payment_intent_id)
        else:
            intent = gateway.create_payment_intent(
                money.to_minor_units(order.order_total, currency), currency, order_id
            )
            statements.run(
                queries.KEEP_PAYMENT_INTENT, payment_intent_id=intent['id'], order_id=order_id
            )
        log.info(
            'Payment started: order_id=%s payment_intent=%s',
            order_id,
            intent['id'],
            extra={'order_id': order_id},
        )
        return {
            'payment_intent_id': intent['id'],
            'client_secret': intent['client_secret'],
            'amount': money.to_json(order.order_total),
            'currency': currency,
            'status': intent['status'],
        }

    # -- webhooks -------------------------------------------------------------
    def handle_webhook(self, raw_body: bytes | str, signature: str | None) -> dict:
        if raw_body and len(raw_body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f'Request body is larger than {MAX_BODY_BYTES} bytes')
        gateway = self._stripe()
        event = gateway.verify_event(raw_body, signature)
        ours = _Deployment(gateway.namespace, gateway.livemode())
        with log.append_context_keys(stripe_event_id=event.event_id):
            try:
                if event.intent is not None:
                    try:
                        outbox, claims = self._payment_succeeded(event.event_id, event.intent, ours)
                    except _OrderGone:
                        self._refund_deleted_order(gateway, event.event_id, event.intent, ours)
                        return {'received': True}
                elif event.event_type in (events.CHARGE_REFUNDED, *events.REFUND_EVENTS):
                    outbox, claims = self._refunds_updated(event, ours)
                else:
                    log.info(
                        'Stripe event %s (%s) acknowledged: nothing to do',
                        event.event_id,
                        event.event_type,
                    )
                    return {'received': True}
            except AlreadyHandled:
                log.info('Stripe event %s already handled', event.event_id)
                return {'received': True}
            self.publish(outbox)
            self.refunds.send(claims)
        return {'received': True}

    def _refund_deleted_order(
        self, gateway: StripeGateway, event_id: str, intent: events.Intent, ours: _Deployment
    ) -> None:
        """A payment of this deployment's for an order deleted since: no row
        can hold its refund (a refund belongs to its order), so Stripe is
        asked first whether the intent is real and ours, then refunds all of
        it at once; only then is the event recorded as handled. Stripe
        unreachable: a 503, and Stripe delivers the event again."""
        assert intent.order_id is not None  # _OrderGone is raised only then
        try:
            found = events.intent_of(gateway.payment_intent(intent.intent_id))
        except (PaymentProviderRefused, events.MalformedEvent):
            found = None
        if (
            found is None
            or found.order_id != intent.order_id
            or rules.foreign(
                found.origin, ours.namespace, ours.livemode, found.intent_id, intent.intent_id
            )
            or found.amount <= 0
        ):
            self._acknowledge(
                event_id,
                'it names a deleted order and Stripe does not know its PaymentIntent as ours',
            )
            return
        gateway.refund_whole_intent(found.intent_id, found.amount, intent.order_id)
        log.error(
            'PaymentIntent %s paid %s %s (minor units) for order %s, which was deleted: '
            'refunded in full',
            found.intent_id,
            found.amount,
            found.currency,
            intent.order_id,
            extra={'order_id': intent.order_id},
        )
        metrics.emit('PaymentMismatches', 1)
        self._acknowledge(event_id)

    @retry_when_busy
    def _acknowledge(self, event_id: str, foreign: str | None = None) -> None:
        """Record the event as handled (a redelivery changes nothing), and say
        why it was not this deployment's if it was not."""
        try:
            with database.atomic():
                _record_event_id(event_id, events.PAYMENT_SUCCEEDED, self.clock())
        except AlreadyHandled:
            return
        if foreign is not None:
            _foreign(event_id, foreign)

    # -- a payment expiry found -----------------------------------------------
    def apply_if_paid(self, order_id: int, payment_intent_id: str) -> str:
        """Before expire_unpaid cancels an order: whether its PaymentIntent
        succeeded at Stripe (its webhook late or lost), and then applied as
        its payment now: PAID; UNPAID (expire it); UNKNOWN (Stripe did not
        answer: leave the order for the next run)."""
        gateway = self.gateway()
        if gateway is None:
            return UNPAID
        try:
            found = gateway.payment_intent(payment_intent_id)
            intent = events.intent_of(found) if found.get('status') == 'succeeded' else None
            ours = _Deployment(gateway.namespace, gateway.livemode())
        except (PaymentProviderUnavailable, PaymentProviderRefused, PaymentsNotConfigured):
            log.warning(
                'Expiry could not ask Stripe about order %s: left for the next run', order_id
            )
            return UNKNOWN
        except events.MalformedEvent:
            # Not a passing trouble: the order expires (its stock back), and a
            # payment, when its webhook comes, is given back.
            log.error('Stripe answered PaymentIntent %s in a shape not expected', payment_intent_id)
            return UNPAID
        if intent is None:
            return UNPAID
        outbox, claims = self._payment_succeeded(intent.intent_id, intent, ours, handled=False)
        self.publish(outbox)
        self.refunds.send(claims)
        if not outbox:
            # Not a payment of this order (another amount, not its intent): it
            # expires, and the payment, when its webhook comes, is given back.
            return UNPAID
        log.info(
            'Order %s was paid at Stripe before it expired', order_id, extra={'order_id': order_id}
        )
        return PAID

    @retry_when_busy
    def _payment_succeeded(
        self, event_id: str, intent: events.Intent, ours: _Deployment, handled: bool = True
    ) -> tuple[list[Outbox], list[Claim]]:
        """handled: record event_id as a Stripe event handled (a webhook's);
        expiry's look at the PaymentIntent has no event, its history names the intent."""
        now = self.clock()
        actor = Principal(sub=event_id, role=PAYMENT)
        with database.atomic():
            if handled:
                _record_event_id(event_id, events.PAYMENT_SUCCEEDED, now)
            order = _locked_or_none(intent.order_id)
            why = rules.foreign(
                intent.origin,
                ours.namespace,
                ours.livemode,
                intent.intent_id,
                # No order to hold an intent: only where the event comes from is checked here.
                intent.intent_id if order is None else order.payment_intent_id,
            )
            if why is None and order is None and intent.order_id is not None and handled:
                raise _OrderGone()  # rolled back: Stripe is asked outside the transaction
            if order is None or why is not None:
                _foreign(event_id, why or 'it names no order of this deployment', intent.order_id)
                return [], []
            outcome = changes.plan_card_payment(
                order,
                changes.CardPayment(intent.intent_id, intent.amount, intent.currency),
                actor,
                now,
            )
            if outcome is None:
                return [], []  # this very payment is already recorded
            if isinstance(outcome, changes.Mismatch):
                log.error(
                    'Payment mismatch on order %s: PaymentIntent %s %s',
                    order.order_id,
                    intent.intent_id,
                    outcome.why,
                    extra={'order_id': order.order_id},
                )
                metrics.emit('PaymentMismatches', 1)
                return [], []
            if isinstance(outcome, changes.LatePayment):
                return [], self.refunds.record_late_payment(
                    order, intent.intent_id, outcome.amount, outcome.currency, actor, now
                )
            outbox = apply_change(order, outcome, now)
        log.info(
            'Order paid by card: order_id=%s', order.order_id, extra={'order_id': order.order_id}
        )
        metrics.emit('PaymentsReceived', 1)
        return outbox, []

    @retry_when_busy
    def _refunds_updated(
        self, event: events.Event, ours: _Deployment
    ) -> tuple[list[Outbox], list[Claim]]:
        now = self.clock()
        actor = Principal(sub=event.event_id, role=PAYMENT)
        outbox: list[Outbox] = []
        with database.atomic():
            _record_event_id(event.event_id, event.event_type, now)
            for stripe_refund in event.refunds:
                refund_id = stripe_refund.our_refund_id
                order_id = (
                    Refund.select(Refund.order).where(Refund.refund_id == refund_id).scalar()
                    if refund_id is not None
                    else None
                )
                if refund_id is None or order_id is None:
                    _foreign(
                        event.event_id,
                        f'its refund {stripe_refund.refund_id} names no refund of ours',
                    )
                    continue
                # The order first, then the refund: the order every writer takes.
                order = locked_order(order_id)
                refund = locked_refund(refund_id)
                why = rules.foreign(
                    stripe_refund.origin,
                    ours.namespace,
                    ours.livemode,
                    stripe_refund.payment_intent,
                    refund.payment_reference,
                    (stripe_refund.amount, stripe_refund.currency),
                    (money.to_minor_units(refund.amount, refund.currency), refund.currency),
                )
                if why is not None:
                    _foreign(event.event_id, why, order_id)
                    continue
                outbox += settle_locked(
                    refund,
                    order,
                    stripe_refund.refund_id,
                    rules.refund_status_of(stripe_refund.status),
                    stripe_refund.failure_reason,
                    actor,
                    now,
                )
        return outbox, []


@dataclass(frozen=True)
class _Deployment:
    """What makes a Stripe object this deployment's: its namespace and the mode of its key."""

    namespace: str
    livemode: bool


def _foreign(event_id: str, why: str, order_id: int | None = None) -> None:
    """An event that is not this deployment's changes nothing: said and counted
    (an operator looks: docs/operations.md), and never refunded."""
    log.error(
        "Stripe event %s is not this deployment's: %s",
        event_id,
        why,
        extra={} if order_id is None else {'order_id': order_id},
    )
    metrics.emit('ForeignPaymentEvents', 1)


def _locked_or_none(order_id: int | None) -> Any:
    if order_id is None:
        return None
    try:
        return locked_order(order_id)
    except OrderNotFound:
        return None


def _record_event_id(event_id: str, event_type: str, now: datetime) -> None:
    """First in the change's transaction. A second delivery running at the
    same moment waits here for the first to commit, then finds the id; the
    AlreadyHandled it raises rolls its transaction back."""
    try:
        statements.insert(
            StripeEvent,
            [{'event_id': event_id, 'event_type': event_type[:100], 'processed_at': now}],
        )
    except peewee.IntegrityError:
        raise AlreadyHandled() from None
