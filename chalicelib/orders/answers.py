"""The JSON shapes the API answers with: plain dicts from the stored rows
(tools/response_schemas.py documents them and tests check them against it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core import money
from chalicelib.core.clock import utc_iso
from chalicelib.orders.payment import dump_payment

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chalicelib.storage.models import Order, OrderHistory, OrderItem


def dump_item(item: OrderItem) -> dict[str, Any]:
    return {
        'order_item_id': item.order_item_id,
        'product_id': item.product_id,
        'sku': item.sku,
        'name': item.name,
        'quantity': item.quantity,
        'price_at_order': money.to_json(item.price_at_order),
    }


def dump_order(order: Order, items: Iterable[OrderItem]) -> dict[str, Any]:
    return {
        'order_id': order.order_id,
        'user_id': order.user_id,
        'user_email': order.user_email,
        'status': order.status,
        'order_total': money.to_json(order.order_total),
        'created_at': utc_iso(order.created_at),
        'updated_at': utc_iso(order.updated_at),
        'version': order.version,
        'currency': order.currency,
        'shipment': dump_shipment(order),
        'payment': dump_payment(
            order.amount_paid,
            order.amount_refunded,
            order.payment_provider,
            order.payment_reference,
        ),
        'items': [dump_item(item) for item in items],
    }


def dump_shipment(order: Order) -> dict[str, Any] | None:
    """null until the order ships; then when, and the tracking given (or nulls)."""
    if order.shipped_at is None:
        return None
    return {
        'carrier': order.carrier,
        'tracking_number': order.tracking_number,
        'tracking_url': order.tracking_url,
        'shipped_at': utc_iso(order.shipped_at),
    }


def dump_history_entry(entry: OrderHistory, with_sub: bool = True) -> dict[str, Any]:
    """An entry of the history; `with_sub` False leaves out who (the sub)
    made the change, and keeps in which role."""
    by: dict[str, Any] | None = None  # entries older than the history know no author
    if entry.actor_role is not None:
        by = {'role': entry.actor_role}
        if with_sub:
            by['sub'] = entry.actor_sub
    dumped: dict[str, Any] = {
        'version': entry.version,
        'status': entry.status,
        'at': utc_iso(entry.at),
        'by': by,
    }
    if entry.reason is not None:
        dumped['reason'] = entry.reason
    return dumped
