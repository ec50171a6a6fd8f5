"""What an order event says: its types, SNS subjects and JSON body, and how a
consumer reads one back out of an SQS message. Pure: no database, no AWS."""

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NotRequired, Protocol, TypedDict, cast

from chalicelib.core import money
from chalicelib.core.clock import utc_iso

ORDER_CREATED = 'order_created'
ORDER_UPDATED = 'order_updated'
ORDER_SHIPPED = 'order_shipped'
ORDER_CANCELLED = 'order_cancelled'
ORDER_DELETED = 'order_deleted'
ORDER_REFUNDED = 'order_refunded'
RETURN_REQUESTED = 'return_requested'
RETURN_APPROVED = 'return_approved'
RETURN_DECLINED = 'return_declined'
RETURN_RECEIVED = 'return_received'
RETURN_EVENTS = (RETURN_REQUESTED, RETURN_APPROVED, RETURN_DECLINED, RETURN_RECEIVED)
SUBJECTS = {
    ORDER_CREATED: 'Order Created',
    ORDER_UPDATED: 'Order Updated',
    ORDER_SHIPPED: 'Order Shipped',
    ORDER_CANCELLED: 'Order Cancelled',
    ORDER_DELETED: 'Order Deleted',
    ORDER_REFUNDED: 'Order Refunded',
    RETURN_REQUESTED: 'Return Requested',
    RETURN_APPROVED: 'Return Approved',
    RETURN_DECLINED: 'Return Declined',
    RETURN_RECEIVED: 'Return Received',
}
_TYPE_FOR_STATUS = {'shipped': ORDER_SHIPPED, 'cancelled': ORDER_CANCELLED}


class Shipment(TypedDict):
    """The shipment as the order answer shows it."""

    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: str


class ShippedDetails(TypedDict):
    shipment: Shipment | None


class CancelledDetails(TypedDict):
    refund_due: float
    reason: str | None


class RefundedDetails(TypedDict):
    refund_id: int
    amount: float
    reason: str | None
    amount_refunded: float


class CreatedDetails(TypedDict):
    """What order_created adds: the breakdown of its total."""

    subtotal: float
    discount_total: float
    shipping_total: float
    tax_total: float


class ReturnLine(TypedDict):
    """One line of a return as its events carry it: the order line (with the
    sku and name it was sold under, for the email), how many units were asked
    for and why; once received, how many arrived and whether they went back
    on the shelf (null before)."""

    order_item_id: int
    sku: str | None
    name: str | None
    quantity: int
    reason: str | None
    received: int | None
    restocked: bool | None


class ReturnDetails(TypedDict):
    """What every return event adds to the order's fields. `status` stays
    the order's; the return's is `return_status`. `reason` is the one given
    for a decline (or for a deduction); `refund_id` is the refund a receipt
    recorded (null: nothing to refund) and `deduction` what was kept back."""

    return_id: int
    return_status: str
    items: list[ReturnLine]
    reason: str | None
    refund_id: int | None
    deduction: float


Details = ShippedDetails | CancelledDetails | RefundedDetails | CreatedDetails | ReturnDetails


class EventBody(TypedDict):
    """The JSON body of an order event: the common fields, then what its
    type adds."""

    event_id: str
    event_type: str
    order_id: int
    user_id: int
    user_email: str | None
    status: str
    order_total: float
    # Events published before orders had a currency carry none.
    currency: NotRequired[str]
    timestamp: str
    shipment: NotRequired[Shipment | None]
    refund_due: NotRequired[float]
    # A refund's; in a return event, null when receiving refunded nothing.
    refund_id: NotRequired[int | None]
    amount: NotRequired[float]
    amount_refunded: NotRequired[float]
    reason: NotRequired[str | None]
    subtotal: NotRequired[float]
    discount_total: NotRequired[float]
    shipping_total: NotRequired[float]
    tax_total: NotRequired[float]
    return_id: NotRequired[int]
    return_status: NotRequired[str]
    items: NotRequired[list[ReturnLine]]
    deduction: NotRequired[float]


class EventOrder(Protocol):
    """What an event reads of an order."""

    order_id: int
    user_id: int
    user_email: str | None
    status: str
    order_total: Decimal
    currency: str


class UnknownMessage(ValueError):
    pass


def type_for_status(new_status: str) -> str:
    return _TYPE_FOR_STATUS.get(new_status, ORDER_UPDATED)


def created_details(
    subtotal: Decimal, discount_total: Decimal, shipping_total: Decimal, tax_total: Decimal
) -> CreatedDetails:
    return {
        'subtotal': money.to_json(subtotal),
        'discount_total': money.to_json(discount_total),
        'shipping_total': money.to_json(shipping_total),
        'tax_total': money.to_json(tax_total),
    }


def shipped_details(shipment: Shipment | None) -> ShippedDetails:
    """What order_shipped adds: the shipment as the order answer shows it."""
    return {'shipment': shipment}


def cancelled_details(refund_due: Decimal, reason: str | None) -> CancelledDetails:
    """What order_cancelled adds: the refund owed (a number, 0 when nothing
    was paid) and the reason given, or null."""
    return {'refund_due': money.to_json(refund_due), 'reason': reason}


def refunded_details(
    refund_id: int, amount: Decimal, reason: str | None, amount_refunded: Decimal
) -> RefundedDetails:
    """What order_refunded adds: the refund, and the order's refunded total so far."""
    return {
        'refund_id': refund_id,
        'amount': money.to_json(amount),
        'reason': reason,
        'amount_refunded': money.to_json(amount_refunded),
    }


def return_details(
    return_id: int,
    return_status: str,
    items: Iterable[ReturnLine],
    reason: str | None = None,
    refund_id: int | None = None,
    deduction: Decimal = Decimal('0'),
) -> ReturnDetails:
    """What a return event (return_requested, _approved, _declined,
    _received) adds: the return, its lines, the decline's reason, and for a
    receipt the refund it recorded and the deduction kept back."""
    return {
        'return_id': return_id,
        'return_status': return_status,
        'items': [ReturnLine(**line) for line in items],
        'reason': reason,
        'refund_id': refund_id,
        'deduction': money.to_json(deduction),
    }


def event_body(
    event_id: str,
    event_type: str,
    order: EventOrder,
    moment: datetime,
    details: Details | None = None,
) -> EventBody:
    """The message; `details` holds what an event type adds to the common fields."""
    body: EventBody = {
        'event_id': event_id,
        'event_type': event_type,
        'order_id': order.order_id,
        'user_id': order.user_id,
        'user_email': order.user_email,
        'status': order.status,
        'order_total': money.to_json(order.order_total),
        'currency': order.currency,
        'timestamp': utc_iso(moment),
    }
    if details:
        # mypy cannot update a TypedDict from a union of TypedDicts.
        return cast(EventBody, {**body, **details})
    return body


def _is_return_line(line: object) -> bool:
    # What a return's email reads of each line without a default.
    return (
        isinstance(line, dict)
        and type(line.get('order_item_id')) is int
        and type(line.get('quantity')) is int
    )


def parse_event(body: str | bytes) -> EventBody:
    """The event in an SQS message body: inside an SNS envelope, or raw."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and message.get('Type') == 'Notification':
            message = json.loads(message['Message'])
    except (ValueError, TypeError, KeyError):
        raise UnknownMessage('not JSON, or an SNS envelope without a JSON message') from None
    if (
        not isinstance(message, dict)
        or message.get('event_type') not in SUBJECTS
        or not isinstance(message.get('event_id'), str)
        or type(message.get('order_id')) is not int
        or not isinstance(message.get('status'), str)
        or type(message.get('order_total')) not in (int, float)
    ):
        raise UnknownMessage('not an order event')
    if message['event_type'] == ORDER_CANCELLED and type(message.get('refund_due')) not in (
        int,
        float,
    ):
        raise UnknownMessage('a cancellation without its refund_due')
    if message['event_type'] == ORDER_REFUNDED and type(message.get('amount')) not in (int, float):
        raise UnknownMessage('a refund without its amount')
    if message['event_type'] in RETURN_EVENTS and (
        type(message.get('return_id')) is not int
        or not isinstance(message.get('items'), list)
        or not all(_is_return_line(line) for line in message['items'])
    ):
        raise UnknownMessage('a return event without its return_id and items')
    return cast(EventBody, message)
