"""Every change of an order's status or money, decided: from the order as it
is (and its lines), who asks, what they ask for and when, to everything the
change writes — the order's new fields, its events, its history entry and
the stock it moves. Pure: no database, no AWS. Whatever asks (a request, a
card payment, a refund that settles, expiry), the order service loads and
locks the order, calls a planner here, and writes what it says in one place
(orders/service.apply_change).

    plan_status_change   a PUT, a cancellation, expiry
    plan_order_update    a PUT with new addresses (and perhaps a status): tax again
    plan_card_payment    a card payment (already bound to this order: payments/rules.py)
    plan_refund          a refund that succeeded
    with_refund          a cancellation that gives back at once what was paid outside
    plan_delete          a deletion: the stock it frees, the PaymentIntent it leaves to cancel
                         (refused while a refund of the order is pending)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.catalog import stock_rules as stock
from chalicelib.core import money
from chalicelib.core.clock import utc_iso
from chalicelib.core.errors import (
    RefundInFlight,
    ShippingMethodRefused,
    TotalChanged,
    TransitionForbidden,
    VersionMismatch,
)
from chalicelib.events import messages
from chalicelib.identity.principal import Principal
from chalicelib.orders import access, lifecycle, payment, totals
from chalicelib.orders.addresses import Address
from chalicelib.orders.commands import AddressChange

# Fields a move to shipped may carry (schemas.py checks them).
SHIPMENT_FIELDS = ('carrier', 'tracking_number', 'tracking_url')


class OrderState(Protocol):
    order_id: int
    user_id: int
    status: str
    version: int
    order_total: Decimal
    amount_paid: Decimal
    amount_refunded: Decimal
    currency: str
    payment_reference: str | None
    payment_intent_id: str | None


class PlacedOrder(OrderState, Protocol):
    """What an address change reads of an order: its money as placed."""

    subtotal: Decimal | None
    discount_total: Decimal
    tax_total: Decimal
    prices_include_tax: bool
    shipping_address: str | None  # JSON, as addresses.Address.to_json writes it
    billing_address: str | None
    shipping_method: str | None
    shipping_name: str | None
    shipping_amount: Decimal
    shipping_tax: Decimal
    shipping_waived: Decimal


class PlacedLine(stock.HeldLine, Protocol):
    order_item_id: int
    price_at_order: Decimal
    discount: Decimal
    tax: Decimal
    tax_rate: Decimal
    tax_class: str


@dataclass(frozen=True)
class StatusRequest:
    status: str
    expected_version: int | None = None  # If-Match
    # What may come with the status, already checked: carrier,
    # tracking_number, tracking_url with shipped; reason with cancelled.
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    status: str
    at: datetime
    role: str
    sub: str
    reason: str | None


@dataclass(frozen=True)
class OrderChange:
    old_status: str
    fields: dict[str, Any]  # the order's new column values (status, version, updated_at, ...)
    event_type: str
    event_details: messages.Details | None
    history: HistoryEntry
    release: dict[int, int] = field(default_factory=dict)  # reservations that end
    sell: dict[int, int] = field(default_factory=dict)  # reserved and now sold
    # Events written after the first, in order (a cancellation's refund).
    also: tuple[tuple[str, messages.Details], ...] = ()
    # The order's PaymentIntent, to cancel at Stripe after the commit.
    cancel_intent: str | None = None
    # Lines whose columns change (an address change taxes them again), by
    # order_item_id: their new tax and tax_rate.
    lines: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def events(self) -> list[tuple[str, messages.Details | None]]:
        return [(self.event_type, self.event_details), *self.also]


@dataclass(frozen=True)
class CardPayment:
    """A card payment Stripe took for an order, already bound to it (its
    PaymentIntent is the order's, its deployment this one)."""

    reference: str  # the PaymentIntent id
    units: int  # minor units received
    currency: str


@dataclass(frozen=True)
class Mismatch:
    """A payment that is not the order's total: nothing changes."""

    why: str


@dataclass(frozen=True)
class LatePayment:
    """A payment the order can no longer take (cancelled, or paid otherwise):
    all of it goes back."""

    amount: Decimal
    currency: str


@dataclass(frozen=True)
class SettledRefund:
    """A refund of the order that succeeded."""

    refund_id: int
    amount: Decimal
    currency: str
    reason: str | None
    # A late payment's refund: the payment is recorded on the order as it goes back.
    late_payment: bool = False
    reference: str | None = None  # what it gives back (the PaymentIntent id)


def plan_status_change(
    order: OrderState,
    lines: Sequence[stock.HeldLine],
    principal: Principal,
    request: StatusRequest,
    now: datetime,
) -> OrderChange | None:
    """The change, or None when the order already has the status (a no-op).
    Raises what the access rules, If-Match and the lifecycle refuse."""
    access.check_status_change(principal, order.user_id, order.status, request.status)
    if request.expected_version is not None and order.version != request.expected_version:
        raise VersionMismatch(
            f'Order {order.order_id} is at version {order.version}, not {request.expected_version}'
        )
    if not lifecycle.check_transition(order.status, request.status):
        return None
    new = request.status
    fields: dict[str, Any] = {'status': new, 'version': order.version + 1, 'updated_at': now}
    held = stock.held(lines)
    details: messages.Details | None = None
    if new == 'shipped':
        shipment = {name: request.details.get(name) for name in SHIPMENT_FIELDS}
        fields.update(shipment, shipped_at=now)
        details = messages.shipped_details(
            {
                'carrier': shipment['carrier'],
                'tracking_number': shipment['tracking_number'],
                'tracking_url': shipment['tracking_url'],
                'shipped_at': utc_iso(now),
            }
        )
    elif new == 'paid':
        # A payment taken outside the service, of the whole total.
        fields.update(amount_paid=order.order_total, payment_provider=None, payment_reference=None)
    elif new == 'cancelled':
        details = messages.cancelled_details(
            payment.refund_due(order.amount_paid, order.amount_refunded),
            request.details.get('reason'),
        )
    return OrderChange(
        old_status=order.status,
        fields=fields,
        event_type=messages.type_for_status(new),
        event_details=details,
        history=HistoryEntry(
            version=order.version + 1,
            status=new,
            at=now,
            role=principal.role,
            sub=principal.sub,
            reason=request.details.get('reason'),
        ),
        release=held if new == 'cancelled' else {},
        sell=held if new == 'shipped' else {},
        cancel_intent=intent_to_cancel(order) if new == 'cancelled' else None,
    )


def plan_card_payment(
    order: OrderState, card: CardPayment, actor: Principal, now: datetime
) -> OrderChange | Mismatch | LatePayment | None:
    """A pending order paid its total becomes paid; None when this very
    payment is already recorded; another amount or currency changes nothing;
    an order that can no longer take it gives it all back."""
    if order.payment_reference == card.reference and order.amount_paid > 0:
        return None
    if order.status != 'pending':
        if not money.is_currency(card.currency):
            return Mismatch(f'{card.units} {card.currency}, a currency the service cannot refund')
        return LatePayment(money.from_minor_units(card.units, card.currency), card.currency)
    if card.currency != order.currency or card.units != money.to_minor_units(
        order.order_total, order.currency
    ):
        return Mismatch(
            f'paid {card.units} {card.currency} (minor units), '
            f'the order is {order.order_total} {order.currency}'
        )
    return OrderChange(
        old_status=order.status,
        fields={
            'status': 'paid',
            'version': order.version + 1,
            'updated_at': now,
            'amount_paid': order.order_total,
            'payment_provider': payment.STRIPE,
            'payment_reference': card.reference,
        },
        event_type=messages.ORDER_UPDATED,
        event_details=None,
        history=HistoryEntry(order.version + 1, 'paid', now, actor.role, actor.sub, None),
    )


def plan_refund(
    order: OrderState, refund: SettledRefund, actor: Principal, now: datetime
) -> OrderChange:
    """A refund that succeeded: the order's money changes, in a version of its own."""
    fields = _refunded_fields(order, refund)
    fields.update(version=order.version + 1, updated_at=now)
    return OrderChange(
        old_status=order.status,
        fields=fields,
        event_type=messages.ORDER_REFUNDED,
        event_details=_refunded_details(refund, fields['amount_refunded']),
        history=HistoryEntry(
            order.version + 1,
            order.status,
            now,
            actor.role,
            actor.sub,
            f'Refund {refund.refund_id}: {money.display(refund.amount, refund.currency)}',
        ),
    )


def with_refund(change: OrderChange, order: OrderState, refund: SettledRefund) -> OrderChange:
    """A cancellation that also gives back, at once, what was paid outside the
    service: still one change of the order (one version, one history entry),
    with order_refunded after order_cancelled."""
    fields = {**change.fields, **_refunded_fields(order, refund)}
    return replace(
        change,
        fields=fields,
        also=(
            *change.also,
            (messages.ORDER_REFUNDED, _refunded_details(refund, fields['amount_refunded'])),
        ),
    )


def _refunded_fields(order: OrderState, refund: SettledRefund) -> dict[str, Any]:
    fields: dict[str, Any] = {'amount_refunded': order.amount_refunded + refund.amount}
    if refund.late_payment:
        # The payment the order could not take, recorded as it goes back.
        fields['amount_paid'] = order.amount_paid + refund.amount
        if order.amount_paid <= 0:
            fields.update(payment_provider=payment.STRIPE, payment_reference=refund.reference)
    return fields


def _refunded_details(refund: SettledRefund, amount_refunded: Decimal) -> messages.Details:
    return messages.refunded_details(
        refund.refund_id, refund.amount, refund.reason, amount_refunded
    )


@dataclass(frozen=True)
class Deletion:
    release: dict[int, int]  # reservations that end
    cancel_intent: str | None  # the PaymentIntent to cancel at Stripe after the commit


def plan_delete(
    order: OrderState, lines: Sequence[stock.HeldLine], refunds_in_flight: int
) -> Deletion:
    """Deleting an order releases what its lines still hold (a shipped
    order's lines hold nothing any more: they were sold), and leaves its
    PaymentIntent to cancel, as a cancellation does. Not while a refund of
    it is pending (a cancellation's, or staff's, that Stripe has not taken
    yet): its row goes with the order, and the relay would never send it."""
    if refunds_in_flight:
        raise RefundInFlight()
    return Deletion(stock.held(lines), intent_to_cancel(order))


def intent_to_cancel(order: OrderState) -> str | None:
    """The PaymentIntent to cancel when the order goes (cancelled, expired,
    deleted): the one this deployment made for it (the order stored it),
    unless it is what paid the order (a refund gives that back) or the order
    is already cancelled (its cancellation took care of it)."""
    intent = order.payment_intent_id
    if not intent or intent == order.payment_reference or order.status == 'cancelled':
        return None
    return intent


# The statuses whose addresses may still change: the order has not shipped.
ADDRESSES_CHANGE_WHILE = ('pending', 'paid')


@dataclass(frozen=True)
class Destination:
    """What the service found for an order's new destination (destination_after)."""

    zone: totals.TaxZone | None
    # The countries the order's shipping method ships to now: empty when the
    # order has no method, or the shop no longer offers it.
    method_countries: frozenset[str] = frozenset()


def destination_after(order: PlacedOrder, addresses: AddressChange) -> Address | None:
    """Where the order goes once the change is made: its shipping address,
    else its billing address (the zone its tax is found by)."""
    shipping, billing = _addresses_after(order, addresses)
    kept = shipping or billing
    return None if kept is None else Address.from_json(kept)


def plan_order_update(
    order: PlacedOrder,
    lines: Sequence[PlacedLine],
    principal: Principal,
    status: StatusRequest | None,
    addresses: AddressChange,
    destination: Destination,
    now: datetime,
    expected_version: int | None = None,
) -> OrderChange | None:
    """New addresses for an order that has not shipped, and the status a
    request may ask for beside them: one change (one version, one history
    entry, one event). None when nothing changes.

    The order keeps what it was placed with: its lines, their discounts and
    its shipping method's price. Only its tax is computed again, at the new
    destination's zone (orders/totals.retax), and only when the destination
    moves. A new shipping country must be one the order's method ships to
    (409 keyed by shipping_address.country). A total that changes once money
    is bound to it (the order is paid, or a PaymentIntent was made for its
    total) is a 409 and nothing changes."""
    access.check_address_change(principal, order.user_id)
    if status is not None:
        access.check_status_change(principal, order.user_id, order.status, status.status)
    if expected_version is not None and order.version != expected_version:
        raise VersionMismatch(
            f'Order {order.order_id} is at version {order.version}, not {expected_version}'
        )
    if order.status not in ADDRESSES_CHANGE_WHILE:
        raise TransitionForbidden(
            f'The addresses of a {order.status} order cannot change: only before it ships'
        )
    moved = _address_fields(order, lines, addresses, destination)
    change = None if status is None else plan_status_change(order, lines, principal, status, now)
    if moved is None:
        return change
    fields, line_fields, note = moved
    fields.update(version=order.version + 1, updated_at=now)
    breakdown = messages.created_details(
        fields.get('subtotal', order.subtotal if order.subtotal is not None else order.order_total),
        order.discount_total,
        order.shipping_amount - order.shipping_waived,
        fields.get('tax_total', order.tax_total),
    )
    if change is None:
        return OrderChange(
            old_status=order.status,
            fields=fields,
            event_type=messages.ORDER_UPDATED,
            event_details=breakdown,
            history=HistoryEntry(
                order.version + 1, order.status, now, principal.role, principal.sub, note
            ),
            lines=line_fields,
        )
    merged = {**change.fields, **fields}
    if 'amount_paid' in change.fields:
        # Marked paid beside the change: paid the total it now has.
        merged['amount_paid'] = merged.get('order_total', order.order_total)
    return replace(
        change,
        fields=merged,
        event_details=change.event_details or breakdown,
        history=replace(change.history, reason=change.history.reason or note),
        lines=line_fields,
    )


def _addresses_after(order: PlacedOrder, addresses: AddressChange) -> tuple[str | None, str | None]:
    """(shipping, billing) as the order will keep them, as text."""
    shipping = order.shipping_address
    if addresses.shipping is not None:
        shipping = addresses.shipping.to_json()
    billing = order.billing_address
    if addresses.sets_billing:
        billing = None if addresses.billing is None else addresses.billing.to_json()
    return shipping, billing


def _address_fields(
    order: PlacedOrder,
    lines: Sequence[PlacedLine],
    addresses: AddressChange,
    destination: Destination,
) -> tuple[dict[str, Any], dict[int, dict[str, Any]], str] | None:
    """(the order's new columns, its lines' new columns, the history's note),
    or None when the addresses are those the order has."""
    shipping, billing = _addresses_after(order, addresses)
    changed = [
        name
        for name, old, new in (
            ('shipping', order.shipping_address, shipping),
            ('billing', order.billing_address, billing),
        )
        if old != new
    ]
    if not changed:
        return None
    note = ' and '.join(changed).capitalize() + (
        ' address changed' if len(changed) == 1 else ' addresses changed'
    )
    fields: dict[str, Any] = {'shipping_address': shipping, 'billing_address': billing}
    if addresses.shipping is not None and order.shipping_method is not None:
        _check_ships_to(order, addresses.shipping.country, destination)
    if (order.shipping_address or order.billing_address) == (shipping or billing):
        return fields, {}, note  # the same destination: the same tax
    retotalled = totals.retax(
        [totals.Line(line.quantity, line.price_at_order, line.tax_class) for line in lines],
        [line.discount for line in lines],
        order.currency,
        shipping_amount=order.shipping_amount,
        shipping_waived=order.shipping_waived,
        zone=destination.zone,
        prices_include_tax=order.prices_include_tax,
    )
    if retotalled.order_total != order.order_total and _money_bound(order):
        raise _total_would_change(order, retotalled.order_total, addresses)
    fields.update(
        subtotal=retotalled.subtotal,
        tax_total=retotalled.tax_total,
        shipping_tax=retotalled.shipping.tax,
        order_total=retotalled.order_total,
    )
    line_fields = {
        line.order_item_id: {'tax': new.tax, 'tax_rate': new.tax_rate}
        for line, new in zip(lines, retotalled.lines, strict=True)
        if (line.tax, line.tax_rate) != (new.tax, new.tax_rate)
    }
    return fields, line_fields, note


def _money_bound(order: PlacedOrder) -> bool:
    """Whether the order's total is bound to money: it is paid, or a
    PaymentIntent was made for it (its amount is fixed, and its idempotency
    key, one per order, would answer the same intent for a new total)."""
    return order.status == 'paid' or order.amount_paid > 0 or bool(order.payment_intent_id)


def _total_would_change(
    order: PlacedOrder, new_total: Decimal, addresses: AddressChange
) -> TotalChanged:
    paid = order.status == 'paid' or order.amount_paid > 0
    was = money.display(order.order_total, order.currency)
    why = f'{was} is paid' if paid else f'a card payment of {was} was started'
    key = 'shipping_address' if addresses.shipping is not None else 'billing_address'
    return TotalChanged(
        f'At this address the total would be {money.display(new_total, order.currency)} '
        f'and {why}: staff may cancel the order and place it again, or refund',
        {key: [f'Would change the total, and {why}.']},
    )


def _check_ships_to(order: PlacedOrder, country: str, destination: Destination) -> None:
    """The order keeps its method and the price it was placed at; it may go
    to the country it was placed for, or to one the method ships to now."""
    placed = None if order.shipping_address is None else Address.from_json(order.shipping_address)
    if placed is not None and placed.country == country:
        return
    if country in destination.method_countries:
        return
    raise ShippingMethodRefused(
        f'{order.shipping_name or order.shipping_method} does not ship to {country}',
        {
            'shipping_address': {
                'country': [
                    f'The order ships with {order.shipping_name or order.shipping_method}, '
                    f'which does not ship to {country}.'
                ]
            }
        },
    )
