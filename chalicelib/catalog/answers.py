"""The catalog's answers and cursors: plain dicts and strings from stored rows,
without marshmallow (a GET of a product needs none)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.core import money
from chalicelib.core.clock import utc_iso
from chalicelib.core.errors import InvalidInput
from chalicelib.core.ids import MAX_ID


def encode_cursor(after: int, active: bool | None) -> str:
    state: dict[str, Any] = {'after': after}
    if active is not None:
        state['active'] = active
    raw = json.dumps(state, separators=(',', ':')).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def decode_cursor(cursor: str, active: bool | None) -> tuple[int, bool | None]:
    """(the last product_id served, the active filter it was made with); an
    active filter repeated in the query must be the cursor's."""
    malformed = InvalidInput('Invalid query parameters', {'cursor': ['Not a valid cursor.']})
    try:
        state = json.loads(
            base64.urlsafe_b64decode((cursor + '=' * (-len(cursor) % 4)).encode('ascii'))
        )
    except (ValueError, UnicodeError, binascii.Error):
        raise malformed from None
    if not isinstance(state, dict) or set(state) - {'after', 'active'}:
        raise malformed
    after, remembered = state.get('after'), state.get('active')
    if (
        type(after) is not int
        or not 1 <= after <= MAX_ID
        or not (remembered is None or isinstance(remembered, bool))
    ):
        raise malformed
    if active is not None and active != remembered:
        raise InvalidInput(
            'Invalid query parameters',
            {'active': ['Does not match the filter the cursor was made with.']},
        )
    return after, remembered


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
        'version': product.version,
        'updated_at': utc_iso(product.updated_at),
    }
