"""Card payments: the PaymentIntent of an order, and what Stripe's webhooks
say happened. Each Stripe event id is handled at most once: the id is
recorded in the same transaction as the change it makes and its outbox row,
so a redelivery finds it and changes nothing, and a failure rolls back both
(Stripe delivers again)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import peewee

from chalicelib.core import money
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import OrderNotFound, PayloadTooLarge, PaymentsNotConfigured
from chalicelib.events import messages
from chalicelib.events.outbox import record_event
from chalicelib.identity.principal import Principal
from chalicelib.orders import counts
from chalicelib.orders.loaders import locked_order, readable_order
from chalicelib.orders.schemas import MAX_BODY_BYTES
from chalicelib.orders.service import record_history
from chalicelib.payments import access, queries, rules
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
REFUND_EVENTS = ('refund.created', 'refund.updated', 'refund.failed')


class AlreadyHandled(Exception):
    """This Stripe event id was handled before."""


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
            # The key makes a retried create (two clicks, a timeout) the same intent.
            intent = gateway.create_payment_intent(
                money.to_minor_units(order.order_total, currency),
                currency,
                order_id,
                rules.payment_key(order_id),
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
        event = self._stripe().verify_event(raw_body, signature)
        event_id, event_type = event['id'], event['type']
        subject = (event.get('data') or {}).get('object') or {}
        with log.append_context_keys(stripe_event_id=event_id):
            try:
                if event_type == 'payment_intent.succeeded':
                    events, claims = self._payment_succeeded(event_id, subject)
                elif event_type in REFUND_EVENTS:
                    events, claims = self._refunds_updated(event_id, event_type, [subject])
                elif event_type == 'charge.refunded':
                    listed = (subject.get('refunds') or {}).get('data') or []
                    events, claims = self._refunds_updated(event_id, event_type, listed)
                else:
                    log.info(
                        'Stripe event %s (%s) acknowledged: nothing to do', event_id, event_type
                    )
                    return {'received': True}
            except AlreadyHandled:
                log.info('Stripe event %s already handled', event_id)
                return {'received': True}
            self.publish(events)
            self.refunds.send(claims)
        return {'received': True}

    @retry_when_busy
    def _payment_succeeded(self, event_id: str, intent: dict) -> tuple[list[Outbox], list[Claim]]:
        order_id = _order_id_of(intent)
        now = self.clock()
        actor = Principal(sub=event_id, role=PAYMENT)
        with database.atomic():
            _record_event_id(event_id, 'payment_intent.succeeded', now)
            if order_id is None:
                log.info('PaymentIntent %s names no order of ours', intent.get('id'))
                return [], []
            try:
                order = locked_order(order_id)
            except OrderNotFound:
                log.warning('PaymentIntent %s for unknown order %s', intent.get('id'), order_id)
                return [], []
            currency = order_currency(order)
            received = intent.get('amount_received') or intent.get('amount')
            if order.status != 'pending' or order.payment_reference not in (None, intent.get('id')):
                if order.payment_reference == intent.get('id'):
                    return [], []  # this very payment is already recorded
                return [], self._late_payment(order, intent, received, actor, now)
            if not rules.matches(order.order_total, currency, received, intent.get('currency')):
                log.error(
                    'Payment mismatch on order %s: PaymentIntent %s paid %s %s, the order is %s %s',
                    order_id,
                    intent.get('id'),
                    received,
                    intent.get('currency'),
                    order.order_total,
                    currency,
                    extra={'order_id': order_id},
                )
                metrics.emit('PaymentMismatches', 1)
                return [], []
            statements.run(
                queries.CHANGE_PAYMENT,
                status='paid',
                updated_at=now,
                amount_paid=order.order_total,
                amount_refunded=order.amount_refunded,
                payment_provider=rules.STRIPE,
                payment_reference=intent['id'],
                order_id=order_id,
                version=order.version,
            )
            order.status, order.version, order.updated_at = 'paid', order.version + 1, now
            order.amount_paid, order.payment_provider, order.payment_reference = (
                order.order_total,
                rules.STRIPE,
                intent['id'],
            )
            record_history(order, actor, now)
            event = record_event(messages.ORDER_UPDATED, order, now)
            counts.record_change(old_status='pending', new_status='paid')
        log.info('Order paid by card: order_id=%s', order_id, extra={'order_id': order_id})
        metrics.emit('PaymentsReceived', 1)
        return [event], []

    def _late_payment(
        self, order: Any, intent: dict, received: object, actor: Principal, now: datetime
    ) -> list[Claim]:
        currency = str(intent.get('currency') or '').upper()
        if type(received) is not int or not money.is_currency(currency):
            log.error(
                'PaymentIntent %s paid %s %s, which this service cannot refund: refund it by hand',
                intent.get('id'),
                received,
                currency,
                extra={'order_id': order.order_id},
            )
            metrics.emit('PaymentMismatches', 1)
            return []
        return self.refunds.record_late_payment(
            order, intent['id'], money.from_minor_units(received, currency), currency, actor, now
        )

    @retry_when_busy
    def _refunds_updated(
        self, event_id: str, event_type: str, stripe_refunds: list
    ) -> tuple[list[Outbox], list[Claim]]:
        now = self.clock()
        actor = Principal(sub=event_id, role=PAYMENT)
        events: list[Outbox] = []
        with database.atomic():
            _record_event_id(event_id, event_type, now)
            for stripe_refund in stripe_refunds:
                refund_id = _refund_id_of(stripe_refund)
                order_id = (
                    Refund.select(Refund.order).where(Refund.refund_id == refund_id).scalar()
                    if refund_id
                    else None
                )
                if refund_id is None or order_id is None:
                    log.info('Stripe refund %s is none of ours', stripe_refund.get('id'))
                    continue
                order = locked_order(order_id)
                refund = locked_refund(refund_id)
                events += settle_locked(
                    refund,
                    order,
                    stripe_refund.get('id'),
                    rules.refund_status_of(stripe_refund.get('status')),
                    stripe_refund.get('failure_reason'),
                    actor,
                    now,
                )
        return events, []


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


def _metadata_id(stripe_object: dict, name: str) -> int | None:
    value = (stripe_object.get('metadata') or {}).get(name)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _order_id_of(intent: dict) -> int | None:
    return _metadata_id(intent, 'order_id')


def _refund_id_of(stripe_refund: dict) -> int | None:
    value = _metadata_id(stripe_refund, 'refund_id')
    if value is not None:
        return value
    found = (
        Refund.select(Refund.refund_id)
        .where(Refund.provider_refund_id == stripe_refund.get('id'))
        .scalar()
        if stripe_refund.get('id')
        else None
    )
    return found
