"""The JSON shapes the API answers with: plain dicts from the stored rows
(tools/response_schemas.py documents them and tests check them against it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalicelib.core import money
from chalicelib.core.clock import utc_iso
from chalicelib.orders.payment import dump_payment

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chalicelib.storage.models import Order, OrderHistory, OrderItem, ReturnHistory


def dump_item(item: OrderItem) -> dict[str, Any]:
    return {
        'order_item_id': item.order_item_id,
        'product_id': item.product_id,
        'sku': item.sku,
        'name': item.name,
        'quantity': item.quantity,
        'price_at_order': money.to_json(item.price_at_order),
        'discount': money.to_json(item.discount),
        'tax': money.to_json(item.tax),
        'tax_rate': float(item.tax_rate),
    }


def dump_order(order: Order, items: Iterable[OrderItem]) -> dict[str, Any]:
    return {
        'order_id': order.order_id,
        'user_id': order.user_id,
        'user_email': order.user_email,
        'status': order.status,
        'order_total': money.to_json(order.order_total),
        # NULL for an order placed before subtotals were kept: nothing but its lines.
        'subtotal': money.to_json(order.order_total if order.subtotal is None else order.subtotal),
        'discount_total': money.to_json(order.discount_total),
        'shipping_total': money.to_json(order.shipping_total),
        'tax_total': money.to_json(order.tax_total),
        'prices_include_tax': bool(order.prices_include_tax),
        'shipping_address': _address(order.shipping_address),
        'billing_address': _address(order.billing_address),
        'shipping': dump_shipping(order),
        'discount': dump_discount(order),
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


def _address(stored: str | None) -> dict[str, Any] | None:
    return None if stored is None else json.loads(stored)


def dump_shipping(order: Order) -> dict[str, Any] | None:
    """The shipping method as the order was placed with it (null: none)."""
    if order.shipping_method is None:
        return None
    return {
        'method': order.shipping_method,
        'name': order.shipping_name,
        'amount': money.to_json(order.shipping_amount),
        'tax': money.to_json(order.shipping_tax),
        'waived': money.to_json(order.shipping_waived),
    }


def dump_discount(order: Order) -> dict[str, Any] | None:
    """The code the order was placed with (null: none); `amount` is what it
    took off: the lines' discounts and the shipping it waived."""
    if order.discount_code is None:
        return None
    return {
        'code': order.discount_code,
        'type': order.discount_type,
        'value': None if order.discount_value is None else money.to_json(order.discount_value),
        'amount': money.to_json(order.discount_total + order.shipping_waived),
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


def dump_return_history_entry(entry: ReturnHistory, with_sub: bool = True) -> dict[str, Any]:
    """A return's change in its order's history: `version` is the order's (a
    return never changes it), `status` the return's, `return_id` which one."""
    by: dict[str, Any] = {'role': entry.actor_role}
    if with_sub:
        by['sub'] = entry.actor_sub
    dumped: dict[str, Any] = {
        'version': entry.order_version,
        'status': entry.status,
        'return_id': entry.return_id,
        'at': utc_iso(entry.at),
        'by': by,
    }
    if entry.reason is not None:
        dumped['reason'] = entry.reason
    return dumped
