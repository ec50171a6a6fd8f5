"""What a request asks of the catalog, as the schemas load it
(catalog/schemas.py): frozen and typed, already checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib.core.paging import PageRequest

# A product's tax class unless it names one (orders/totals.py taxes by class).
STANDARD_TAX_CLASS = 'standard'


@dataclass(frozen=True)
class ProductWrite:
    """A product as PUT /products/{id} (or a CSV row) writes it whole."""

    name: str
    unit_price: Decimal
    currency: str
    sku: str | None = None
    active: bool = True
    # None: stock is not tracked, no limit.
    on_hand: int | None = None
    # None (a CSV row without one): the product keeps its class; a new one is standard.
    tax_class: str | None = STANDARD_TAX_CLASS


@dataclass(frozen=True)
class ProductListQuery:
    page: PageRequest = field(default_factory=PageRequest)
    active: bool | None = None
