"""Pricing an order's lines and choosing its currency. Pure: the requested
lines, what the catalog holds of their products and who is asking, in; the
priced lines, the currency and the total (or the refusal), out.

- A customer's line is priced from the catalog; its product must exist and
  be active. A price_at_order the customer sends must be the current one:
  the shop's page showed an old price otherwise (PriceChanged, 409).
- Staff may price a line themselves (kept as sent; the product need not be
  in the catalog); a staff line without a price is priced like a customer's.
- Every line naming a catalog product (a "catalog line") takes that
  product's SKU, name and currency; they must all share one currency, which
  is then the order's; else the body's currency; else DEFAULT_CURRENCY.
- Every amount fits its currency's minor unit, and the total fits the column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.core import money
from chalicelib.core.errors import InvalidInput, PriceChanged

Errors = dict[int, dict[str, list[str]]]


@dataclass(frozen=True)
class CatalogEntry:
    """What pricing needs of a product."""

    product_id: int
    sku: str | None
    name: str
    unit_price: Decimal
    currency: str
    active: bool
    tracked: bool
    version: int
    tax_class: str = 'standard'


@dataclass(frozen=True)
class Request:
    """One requested line: price_at_order None when the caller sent none."""

    product_id: int
    quantity: int
    price_at_order: Decimal | None = None


@dataclass(frozen=True)
class Line:
    product_id: int
    quantity: int
    price_at_order: Decimal
    sku: str | None
    name: str | None
    reserves: bool  # its product's stock is tracked: the line reserves its quantity
    tax_class: str = 'standard'  # a line that names no catalog product is standard
    in_catalog: bool = False  # it names a catalog product (a discount code may reach it)


@dataclass(frozen=True)
class PricedOrder:
    currency: str
    lines: tuple[Line, ...]
    total: Decimal


def price_order(
    requests: Sequence[Request],
    catalog: Mapping[int, CatalogEntry],
    *,
    staff: bool,
    body_currency: str | None,
    default_currency: str,
) -> PricedOrder:
    """Raise InvalidInput (400) for what no catalog change can fix, else
    PriceChanged (409) for customer prices that are not the current ones."""
    refused: Errors = {}
    for index, request in enumerate(requests):
        entry = catalog.get(request.product_id)
        own_price = staff and request.price_at_order is not None
        if not own_price and (entry is None or not entry.active):
            _add(refused, index, 'product_id', 'Not a product on sale.')
    currency = _currency(requests, catalog, body_currency, default_currency, refused)
    if refused:
        raise InvalidInput('Invalid order', {'items': refused})
    for index, request in enumerate(requests):
        if request.price_at_order is not None and not money.fits_currency(
            request.price_at_order, currency
        ):
            _add(
                refused,
                index,
                'price_at_order',
                f'Must have at most {money.places(currency)} decimal places in {currency}.',
            )
    if refused:
        raise InvalidInput('Invalid order', {'items': refused})
    changed: Errors = {}
    lines = []
    for index, request in enumerate(requests):
        entry = catalog.get(request.product_id)
        price = request.price_at_order
        if entry is not None and not (staff and price is not None):
            if price is not None and price != entry.unit_price:
                _add(
                    changed,
                    index,
                    'price_at_order',
                    f'The current price is {money.display(entry.unit_price, entry.currency)}.',
                )
            price = entry.unit_price
        assert price is not None  # a line without one named a product on sale
        lines.append(
            Line(
                product_id=request.product_id,
                quantity=request.quantity,
                price_at_order=price,
                sku=entry.sku if entry else None,
                name=entry.name if entry else None,
                reserves=entry is not None and entry.tracked,
                tax_class=entry.tax_class if entry else 'standard',
                in_catalog=entry is not None,
            )
        )
    if changed:
        raise PriceChanged(errors={'items': changed})
    total = money.order_total(
        {'quantity': line.quantity, 'price_at_order': line.price_at_order} for line in lines
    )
    if total > money.MAX_MONEY:
        raise InvalidInput(
            'Invalid order',
            {'items': ['The order total must be less than or equal to 99999999.99.']},
        )
    return PricedOrder(currency=currency, lines=tuple(lines), total=total)


def _currency(
    requests: Sequence[Request],
    catalog: Mapping[int, CatalogEntry],
    body_currency: str | None,
    default_currency: str,
    refused: Errors,
) -> str:
    """The catalog lines' one currency, else the body's, else the default;
    lines in another currency than the first catalog line's are refused."""
    found: str | None = None
    for index, request in enumerate(requests):
        entry = catalog.get(request.product_id)
        if entry is None:
            continue
        if found is None:
            found = entry.currency
        elif entry.currency != found:
            _add(
                refused,
                index,
                'product_id',
                f"Is priced in {entry.currency}, the order's first product in {found}: "
                'one currency per order.',
            )
    if found is not None and body_currency is not None and body_currency != found:
        raise InvalidInput(
            'Invalid order', {'currency': [f'The products of this order are priced in {found}.']}
        )
    return found or body_currency or default_currency


def _add(errors: Errors, index: int, field: str, message: str) -> None:
    errors.setdefault(index, {}).setdefault(field, []).append(message)
