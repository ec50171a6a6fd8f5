"""What a request asks of the orders, as the schemas load it (orders/schemas.py):
frozen and typed, already checked, so a service reads fields, not keys, and
the type checker sees every one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from chalicelib.core.paging import PageRequest

if TYPE_CHECKING:
    # Only a body with an address loads the address rules.
    from chalicelib.orders.addresses import Address


@dataclass(frozen=True)
class NewOrderItem:
    product_id: int
    quantity: int
    # None: the line is priced from the catalog (catalog/pricing.py says what
    # a price sent must be).
    price_at_order: Decimal | None = None


@dataclass(frozen=True)
class NewOrder:
    items: tuple[NewOrderItem, ...]
    # None: the order is the caller's own (the access rules decide).
    user_id: int | None = None
    user_email: str | None = None
    # None: the order's products (or DEFAULT_CURRENCY) decide.
    currency: str | None = None
    shipping_address: Address | None = None
    # None: the same as the shipping address.
    billing_address: Address | None = None
    # What the page showed: a total the server computes otherwise is a 409.
    expected_total: Decimal | None = None
    shipping_method: str | None = None
    discount_code: str | None = None


# What a status change may carry, each only with its status.
DETAIL_STATUS = {
    'carrier': 'shipped',
    'tracking_number': 'shipped',
    'tracking_url': 'shipped',
    'reason': 'cancelled',
}


@dataclass(frozen=True)
class AddressChange:
    """New addresses for a placed order (PUT /orders/{id}); None: kept."""

    shipping: Address | None = None
    billing: Address | None = None
    # Whether billing_address was sent: null (billing None) then means the
    # same as the shipping address, as on a new order.
    sets_billing: bool = False


@dataclass(frozen=True)
class OrderUpdate:
    # None: the status stays (the body changes addresses only).
    status: str | None = None
    addresses: AddressChange | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    reason: str | None = None

    def details(self) -> dict[str, str]:
        """What comes with the status, by name: only what was given."""
        return {name: value for name in DETAIL_STATUS if (value := getattr(self, name)) is not None}


@dataclass(frozen=True)
class OrderListQuery:
    page: PageRequest = field(default_factory=PageRequest)
    status: str | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class ExportRange:
    """Both dates inclusive, in UTC; None: no bound."""

    from_date: date | None = None
    to_date: date | None = None
