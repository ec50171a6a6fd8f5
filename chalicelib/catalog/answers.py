"""The catalog's answers and cursors: plain dicts and strings from stored rows,
without marshmallow (a GET of a product needs none)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import money
from chalicelib.core.clock import utc_iso
from chalicelib.core.paging import Cursors

# The product list's cursors: the one codec, with the active filter.
CURSORS = Cursors(active=lambda value: value is None or isinstance(value, bool))


def dump_product(product: Any, staff_view: bool) -> dict[str, Any]:
    """Staff and services see the whole stock; a customer only what is available."""
    stock = None
    if product.on_hand is not None:
        available = max(product.on_hand - product.reserved, 0)
        stock = (
            {'on_hand': product.on_hand, 'reserved': product.reserved, 'available': available}
            if staff_view
            else {'available': available}
        )
    return {
        'product_id': product.product_id,
        'sku': product.sku,
        'name': product.name,
        'unit_price': money.to_json(product.unit_price),
        'currency': product.currency,
        'active': bool(product.active),
        'stock': stock,
        'tax_class': product.tax_class,
        'version': product.version,
        'updated_at': utc_iso(product.updated_at),
    }
