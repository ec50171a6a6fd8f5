"""Refunds: each row commits with whatever asked for it (a staff request, a
cancellation, a payment that came too late); the money moves after the commit.

Who sends a refund to Stripe holds its claim: the request that committed the
row holds it for CLAIM_LEASE (far longer than a request can wait on Stripe),
and hands it to the relay when Stripe is down or slow; the relay takes only
rows whose claim has lapsed, each under a claim of its own. So a request and
the relay never both send one refund. And whoever sends it sends it with an
idempotency key derived from the refund id, after looking for one an earlier
attempt may have made (by its metadata): at most one Stripe refund per row.

A payment taken outside the service is given back outside: its refund
succeeds at once, in the transaction that asked for it."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from chalicelib.core import money
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import (
    PaymentConflict,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    PaymentsNotConfigured,
    RefundNotFound,
)
from chalicelib.core.lazy import lazy_import
from chalicelib.identity.principal import Principal
from chalicelib.orders import idempotency
from chalicelib.orders.loaders import items_of, locked_order, readable_order
from chalicelib.orders.payment import STRIPE
from chalicelib.orders.service import apply_change
from chalicelib.payments import access as payment_access
from chalicelib.payments import rules
from chalicelib.payments.answers import dump_refund
from chalicelib.payments.gateway import BACKGROUND, REQUEST, StripeGateway
from chalicelib.platform import metrics
from chalicelib.platform.logs import log
from chalicelib.storage import dialect
from chalicelib.storage.connection import (
    CONNECTION_ERRORS,
    database,
    discard_if_broken,
    retry_when_busy,
)
from chalicelib.storage.models import Order, Outbox, Refund

if TYPE_CHECKING:
    from chalicelib.orders import changes, totals
    from chalicelib.payments.commands import RefundRequest
else:
    # As in orders/service.py: a GET of one order need not load the planner
    # nor the calculator.
    changes = lazy_import('chalicelib.orders.changes')
    totals = lazy_import('chalicelib.orders.totals')

# How long the writer of a refund row alone may send it.
CLAIM_LEASE = timedelta(seconds=60)
# A refund Stripe holds as pending is asked about again this much later
# (its webhook usually tells first).
RECHECK_PENDING = timedelta(minutes=10)
RELAY_CLAIM = 10
# What one send may take at its slowest on the relay's client (3 attempts of a
# 3 s connect and a 15 s read): no send starts with less time left.
REFUND_MARGIN_SECONDS = 60

Claim = tuple[int, str]  # (refund_id, claim token)


def order_currency(order: Order) -> str:
    """The order's currency (the one place that reads it)."""
    return order.currency


def locked_refund(refund_id: int) -> Refund:
    return dialect.locked(Refund.select().where(Refund.refund_id == refund_id)).get()


class RefundService:
    def __init__(
        self,
        gateway: Callable[[], StripeGateway | None],
        publish: Callable[[list[Outbox]], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.gateway = gateway  # None: Stripe is not configured
        self.publish = publish
        self.clock = clock

    # -- asking ------------------------------------------------------------
    def request_refund(
        self,
        principal: Principal,
        order_id: int,
        request: RefundRequest,
        key: str | None = None,
        request_hash: str | None = None,
    ) -> tuple[dict, bool]:
        """(the refund, whether it is a replay). Staff only."""
        readable_order(principal, order_id)
        payment_access.check_can_refund(principal)
        now = self.clock()
        key, stored = idempotency.claim_or_replay(
            principal, key, request_hash, now, f'/orders/{order_id}/refunds'
        )
        if stored is not None:
            return stored, True
        with idempotency.released_on_failure(key):
            refund, events, claims = self._record_request(principal, order_id, request, key, now)
        self.publish(events)
        self.send(claims)
        return refund, False

    @retry_when_busy
    def _record_request(
        self,
        principal: Principal,
        order_id: int,
        request: RefundRequest,
        key: str | None,
        now: datetime,
    ) -> tuple[dict, list[Outbox], list[Claim]]:
        with database.atomic():
            order = locked_order(order_id)
            currency = order_currency(order)
            left = rules.refundable(
                order.amount_paid, order.amount_refunded, _pending_total(order_id)
            )
            # The lines as the refund row keeps them (JSON) and the rules read them.
            items = (
                [dataclasses.asdict(item) for item in request.items]
                if request.items is not None
                else None
            )
            if items is not None or request.shipping:
                amount = money.ZERO
                if items is not None:
                    amount += rules.items_amount(
                        items, _ordered(order), _refunded_lines(order_id), currency
                    )
                if request.shipping:
                    amount += _shipping_paid(order)
            else:
                amount = request.amount if request.amount is not None else left
            rules.check_refund(order_id, amount, left, currency)
            refund, claims = self._record(
                order,
                amount,
                principal,
                now,
                reason=request.reason,
                items=items,
                shipping=request.shipping,
                currency=currency,
            )
            events: list[Outbox] = []
            if not claims:
                # Paid outside the service: given back outside, done as soon as recorded.
                events = apply_change(
                    order,
                    changes.plan_refund(order, _succeeded(refund, None, now), principal, now),
                    now,
                )
            answer = dump_refund(refund)
            if key is not None:
                idempotency.complete(key, answer, order_id)
        log.info(
            'Refund %s recorded: order_id=%s amount=%s',
            refund.refund_id,
            order_id,
            amount,
            extra={'order_id': order_id},
        )
        return answer, events, claims

    def record(
        self,
        order: Order,
        change: changes.OrderChange,
        actor: Any,
        now: datetime,
        reason: str | None,
    ) -> tuple[changes.OrderChange, list[Claim]]:
        """A cancellation's refund of everything still refundable, with the
        cancellation's reason; inside the cancellation's transaction, before
        its change is written. A payment taken outside goes back at once:
        the refund becomes part of that one change."""
        left = rules.refundable(
            order.amount_paid, order.amount_refunded, _pending_total(order.order_id)
        )
        if left <= 0:
            return change, []
        refund, claims = self._record(
            order,
            left,
            actor,
            now,
            currency=order_currency(order),
            reason=reason or 'Order cancelled',
        )
        if claims:
            return change, claims
        return changes.with_refund(change, order, _succeeded(refund, None, now)), []

    def record_late_payment(
        self,
        order: Order,
        payment_intent_id: str,
        amount: Decimal,
        currency: str,
        actor: Any,
        now: datetime,
    ) -> list[Claim]:
        """A payment the order could not take (it was cancelled, or already
        paid): all of it goes back. Inside the webhook's transaction."""
        token = str(uuid.uuid4())
        refund = Refund(
            order=order.order_id,
            amount=amount,
            currency=currency,
            status=rules.PENDING,
            reason='Paid after the order could no longer take a payment',
            provider=STRIPE,
            payment_reference=payment_intent_id,
            late_payment=True,
            actor_role=actor.role,
            actor_sub=actor.sub,
            created_at=now,
            updated_at=now,
            attempts=1,
            claim_token=token,
            claimed_until=now + CLAIM_LEASE,
        )
        refund.save(force_insert=True)
        log.warning(
            'Late payment %s on order %s: refunding all of it',
            payment_intent_id,
            order.order_id,
            extra={'order_id': order.order_id},
        )
        return [(refund.refund_id, token)]

    def _record(
        self,
        order: Order,
        amount: Decimal,
        actor: Any,
        now: datetime,
        *,
        currency: str,
        reason: str | None = None,
        items: list | None = None,
        shipping: bool = False,
    ) -> tuple[Refund, list[Claim]]:
        """The refund row, pending and claimed by its writer; for a payment
        taken outside (nothing to send: the money goes back outside), no claim."""
        outside = order.payment_provider is None
        refund = Refund(
            order=order.order_id,
            amount=amount,
            currency=currency,
            status=rules.PENDING,
            reason=reason,
            items=json.dumps(items, separators=(',', ':')) if items else None,
            shipping=shipping,
            provider=order.payment_provider,
            payment_reference=order.payment_reference,
            late_payment=False,
            actor_role=actor.role,
            actor_sub=actor.sub,
            created_at=now,
            updated_at=now,
            attempts=0 if outside else 1,
        )
        token = str(uuid.uuid4())
        if not outside:
            refund.claim_token, refund.claimed_until = token, now + CLAIM_LEASE
        refund.save(force_insert=True)
        return refund, [] if outside else [(refund.refund_id, token)]

    def record_lines(
        self,
        order: Order,
        amount: Decimal,
        items: list[dict[str, int]],
        actor: Any,
        now: datetime,
        reason: str,
    ) -> tuple[int, list[Outbox], list[Claim]]:
        """A refund of units of the order's lines that something else decided
        (a return received), inside its transaction, the order row locked:
        recorded as every refund is, with its lines, so that no later refund
        pays those units again. A payment taken outside goes back at once (a
        change of the order of its own). (refund_id, events, claims to send)."""
        refund, claims = self._record(
            order, amount, actor, now, currency=order_currency(order), reason=reason, items=items
        )
        events: list[Outbox] = []
        if not claims:
            events = apply_change(
                order,
                changes.plan_refund(order, _succeeded(refund, None, now), actor, now),
                now,
            )
        log.info(
            'Refund %s recorded: order_id=%s amount=%s',
            refund.refund_id,
            order.order_id,
            amount,
            extra={'order_id': order.order_id},
        )
        return refund.refund_id, events, claims

    # -- reading --------------------------------------------------------------
    def list_refunds(self, principal: Principal, order_id: int) -> list[dict]:
        readable_order(principal, order_id)
        return [
            dump_refund(refund)
            for refund in Refund.select().where(Refund.order == order_id).order_by(Refund.refund_id)
        ]

    def get_refund(self, principal: Principal, order_id: int, refund_id: int) -> dict:
        readable_order(principal, order_id)
        refund = Refund.get_or_none((Refund.refund_id == refund_id) & (Refund.order == order_id))
        if refund is None:
            raise RefundNotFound()
        return dump_refund(refund)

    # -- moving the money -----------------------------------------------------
    def send(self, claims: Iterable[Claim], purpose: str = REQUEST) -> int:
        """Send each claimed refund to Stripe and settle it; never raises.
        What Stripe did not take stays pending, for the relay. How many
        Stripe answered."""
        answered = 0
        claims = list(claims)
        for index, (refund_id, token) in enumerate(claims):
            try:
                answered += self._send_one(refund_id, token, purpose)
            except CONNECTION_ERRORS as exc:
                # The row stays claimed; the relay takes it once the claim lapses.
                discard_if_broken(exc)
                log.warning('Refund %s not settled: database unavailable', refund_id)
            except PaymentProviderUnavailable:
                if purpose == BACKGROUND:
                    # Stripe is down: the rest of the batch is not tried now,
                    # and is free for the next run, not held for a lease.
                    self._free(claims[index + 1 :])
                    break
        return answered

    def _free(self, claims: list[Claim]) -> None:
        """Let the relay's next run take these claimed refunds at once."""
        for refund_id, token in claims:
            try:
                Refund.update(claimed_until=self.clock()).where(
                    (Refund.refund_id == refund_id)
                    & (Refund.claim_token == token)
                    & (Refund.status == rules.PENDING)
                ).execute()
            except CONNECTION_ERRORS as exc:
                discard_if_broken(exc)  # the lease lapses by itself

    def _send_one(self, refund_id: int, token: str, purpose: str) -> int:
        refund = Refund.get_or_none(Refund.refund_id == refund_id)
        if refund is None or refund.status != rules.PENDING or refund.claim_token != token:
            return 0
        gateway = self.gateway()
        try:
            if gateway is None:
                raise PaymentsNotConfigured()
            units = money.to_minor_units(refund.amount, refund.currency)
            # A Stripe refund is written with the PaymentIntent it gives back.
            reference = cast(str, refund.payment_reference)
            found = None
            if refund.attempts > 1 or refund.provider_refund_id:
                # An earlier attempt may have reached Stripe.
                found = gateway.find_refund(reference, refund_id, purpose)
            stripe_refund = found or gateway.create_refund(
                reference, units, refund_id, refund.order_id, purpose
            )
        except PaymentProviderUnavailable:
            # Free at once: the relay's next run sends it, not a later one.
            self._free([(refund_id, token)])
            log.warning(
                'Refund %s handed to the relay: Stripe unavailable',
                refund_id,
                extra={'order_id': refund.order_id},
            )
            raise
        except (PaymentProviderRefused, PaymentsNotConfigured) as exc:
            self.settle(refund_id, None, rules.FAILED, failure=str(exc))
            return 1
        self.settle(
            refund_id, stripe_refund.get('id'), rules.refund_status_of(stripe_refund.get('status'))
        )
        return 1

    def settle(
        self,
        refund_id: int,
        provider_refund_id: str | None,
        status: str,
        failure: str | None = None,
        actor: Any = None,
    ) -> None:
        """Record what Stripe did with a refund; publish what it changed."""
        events = self._settle(refund_id, provider_refund_id, status, failure, actor)
        self.publish(events)

    @retry_when_busy
    def _settle(
        self,
        refund_id: int,
        provider_refund_id: str | None,
        status: str,
        failure: str | None,
        actor: Any,
    ) -> list[Outbox]:
        with database.atomic():
            order_id = Refund.select(Refund.order).where(Refund.refund_id == refund_id).scalar()
            if order_id is None:
                return []
            # The order first, then the refund: the order every writer takes.
            order = locked_order(order_id)
            refund = locked_refund(refund_id)
            return settle_locked(
                refund, order, provider_refund_id, status, failure, actor, self.clock()
            )

    def relay(self, time_left: Callable[[], float]) -> int:
        """Send the refunds whose claim lapsed (requests that gave up, died, or
        left a refund Stripe still holds as pending); how many Stripe answered.
        The first batch runs whatever the time left (chalice local's context
        reports 3 s), the next ones while time_left() is positive."""
        answered = 0
        while True:
            claims = self._claim_lapsed(self.clock())
            if not claims:
                break
            done = self.send(claims, BACKGROUND)
            answered += done
            if len(claims) < RELAY_CLAIM or done < len(claims) or time_left() <= 0:
                break
        if answered:
            metrics.emit('RefundsRelayed', answered)
        return answered

    def _claim_lapsed(self, now: datetime) -> list[Claim]:
        with database.atomic():
            query = dialect.skip_locked(
                Refund.select(Refund.refund_id)
                .where(
                    (Refund.status == rules.PENDING)
                    & (Refund.claimed_until <= now)
                    & Refund.provider.is_null(False)
                )
                .order_by(Refund.claimed_until)
                .limit(RELAY_CLAIM)
            )
            claims = []
            for row in list(query):
                token = str(uuid.uuid4())
                Refund.update(
                    claim_token=token, claimed_until=now + CLAIM_LEASE, attempts=Refund.attempts + 1
                ).where(Refund.refund_id == row.refund_id).execute()
                claims.append((row.refund_id, token))
        return claims


def settle_locked(
    refund: Refund,
    order: Order,
    provider_refund_id: str | None,
    status: str,
    failure: str | None,
    actor: Any,
    now: datetime,
) -> list[Outbox]:
    """Inside a transaction holding the order and the refund: apply Stripe's word."""
    if refund.status != rules.PENDING:
        if refund.status == rules.SUCCEEDED and status == rules.FAILED:
            log.error(
                'Stripe failed refund %s after it had succeeded: check it by hand',
                refund.refund_id,
                extra={'order_id': order.order_id},
            )
            metrics.emit('RefundFailures', 1)
        return []
    if status == rules.PENDING:
        (
            Refund.update(
                provider_refund_id=provider_refund_id or refund.provider_refund_id,
                claimed_until=now + RECHECK_PENDING,
                updated_at=now,
            )
            .where(Refund.refund_id == refund.refund_id)
            .execute()
        )
        return []
    if status == rules.FAILED:
        (
            Refund.update(
                status=rules.FAILED,
                provider_refund_id=provider_refund_id,
                failure=failure,
                claim_token=None,
                claimed_until=None,
                updated_at=now,
            )
            .where(Refund.refund_id == refund.refund_id)
            .execute()
        )
        log.error(
            'Refund %s failed: %s',
            refund.refund_id,
            failure or 'refused by Stripe',
            extra={'order_id': order.order_id},
        )
        metrics.emit('RefundFailures', 1)
        return []
    actor = actor or Principal(sub=refund.actor_sub, role=refund.actor_role)
    return apply_change(
        order,
        changes.plan_refund(order, _succeeded(refund, provider_refund_id, now), actor, now),
        now,
    )


def _succeeded(
    refund: Refund, provider_refund_id: str | None, now: datetime
) -> changes.SettledRefund:
    """Mark the refund row succeeded (its order's change is written beside
    it, by whoever called); what the order's planner needs of it."""
    (
        Refund.update(
            status=rules.SUCCEEDED,
            provider_refund_id=provider_refund_id,
            claim_token=None,
            claimed_until=None,
            updated_at=now,
        )
        .where(Refund.refund_id == refund.refund_id)
        .execute()
    )
    refund.status = rules.SUCCEEDED
    log.info(
        'Refund %s succeeded: order_id=%s amount=%s',
        refund.refund_id,
        refund.order_id,
        refund.amount,
        extra={'order_id': refund.order_id},
    )
    metrics.emit('RefundsSucceeded', 1)
    return changes.SettledRefund(
        refund_id=refund.refund_id,
        amount=refund.amount,
        currency=refund.currency,
        reason=refund.reason,
        late_payment=refund.late_payment,
        reference=refund.payment_reference,
    )


@dataclasses.dataclass(frozen=True)
class LineRefunds:
    """What refunds by line need of a locked order: each line's quantity and
    what was paid for it, the units of each refunded or being refunded, and
    what the order may still refund at all."""

    ordered: dict[int, tuple[int, Decimal]]
    refunded: dict[int, int]
    left: Decimal


def line_refunds(order: Order) -> LineRefunds:
    """Read under the order's lock, inside the transaction that refunds."""
    return LineRefunds(
        _ordered(order),
        _refunded_lines(order.order_id),
        rules.refundable(order.amount_paid, order.amount_refunded, _pending_total(order.order_id)),
    )


def _pending_total(order_id: int) -> Decimal:
    return sum(
        (
            refund.amount
            for refund in Refund.select(Refund.amount).where(
                (Refund.order == order_id) & (Refund.status == rules.PENDING)
            )
        ),
        money.ZERO,
    )


def _ordered(order: Order) -> dict[int, tuple[int, Decimal]]:
    """Each line's quantity and what was paid for it, as the order was placed."""
    return {
        item.order_item_id: (
            item.quantity,
            totals.line_paid(
                item.price_at_order * item.quantity,
                item.discount,
                item.tax,
                order.prices_include_tax,
            ),
        )
        for item in items_of([order.order_id])[order.order_id]
    }


def _shipping_paid(order: Order) -> Decimal:
    """The shipping charged, with its tax: once per order (a refund that
    failed gave nothing back). The order row is locked, so no other refund
    of it is being written meanwhile."""
    given_back = (
        Refund.select(Refund.refund_id)
        .where((Refund.order == order.order_id) & Refund.shipping & (Refund.status != rules.FAILED))
        .exists()
    )
    if given_back:
        raise PaymentConflict(f"Order {order.order_id}'s shipping is already refunded")
    return totals.line_paid(
        order.shipping_amount - order.shipping_waived,
        money.ZERO,
        order.shipping_tax,
        order.prices_include_tax,
    )


def _refunded_lines(order_id: int) -> dict[int, int]:
    """Quantity of each line refunded or being refunded."""
    counted: dict[int, int] = {}
    for refund in Refund.select(Refund.items).where(
        (Refund.order == order_id) & Refund.items.is_null(False) & (Refund.status != rules.FAILED)
    ):
        for line in json.loads(refund.items or '[]'):
            line_id = line['order_item_id']
            counted[line_id] = counted.get(line_id, 0) + line['quantity']
    return counted
