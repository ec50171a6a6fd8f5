"""What a request asks of the payments, as the schemas load it
(payments/schemas.py): frozen and typed, already checked."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class RefundItem:
    order_item_id: int
    quantity: int


@dataclass(frozen=True)
class RefundRequest:
    """amount alone, or items and/or shipping, or none of them (everything
    still refundable)."""

    amount: Decimal | None = None
    items: tuple[RefundItem, ...] | None = None
    reason: str | None = None
    shipping: bool = False
