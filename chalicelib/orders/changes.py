"""A status change, decided: from the order as it is (and its lines), who
asks, what they ask for and when, to everything the change writes — the
order's new fields, its event, its history entry and the stock it moves.
Pure: no database, no AWS; the order service loads and locks the order,
calls `plan_status_change`, and writes what it says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.catalog import stock_rules as stock
from chalicelib.core.clock import utc_iso
from chalicelib.core.errors import VersionMismatch
from chalicelib.events import messages
from chalicelib.identity.principal import Principal
from chalicelib.orders import access, lifecycle, payment

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
class StatusChange:
    old_status: str
    fields: dict[str, Any]  # the order's new column values (status, version, updated_at, ...)
    event_type: str
    event_details: messages.Details | None
    history: HistoryEntry
    release: dict[int, int]  # {product_id: quantity} whose reservation ends
    sell: dict[int, int]  # {product_id: quantity} reserved and now sold


def plan_status_change(
    order: OrderState,
    lines: Sequence[stock.HeldLine],
    principal: Principal,
    request: StatusRequest,
    now: datetime,
) -> StatusChange | None:
    """The change, or None when the order already has the status (a no-op).
    Raises what the access rules, If-Match and the lifecycle refuse."""
    access.check_status_change(principal, order.user_id, request.status)
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
    return StatusChange(
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
    )


def stock_freed_by_delete(lines: Sequence[stock.HeldLine]) -> dict[int, int]:
    """Deleting an order releases what its lines still hold (a shipped
    order's lines hold nothing any more: they were sold)."""
    return stock.held(lines)
