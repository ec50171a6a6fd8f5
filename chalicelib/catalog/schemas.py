"""The catalog's requests (marshmallow) and the product answer."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from chalicelib import money
from chalicelib.clock import utc_iso
from chalicelib.errors import InvalidInput
from chalicelib.inputs import (MAX_ID, Money, QueryInteger, StrictInteger, load, not_blank,
                               printable)

MAX_ON_HAND = 10 ** 9
_TEXT = [printable, not_blank]


class StrictBoolean(fields.Boolean):
    """true or false, nothing that merely looks like one ("true", 1)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error('invalid')
        return value


class StockSchema(Schema):
    on_hand = StrictInteger(required=True, validate=validate.Range(min=0, max=MAX_ON_HAND))


class ProductSchema(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=200), *_TEXT])
    unit_price = Money(required=True)
    currency = fields.String(required=True, validate=validate.OneOf(sorted(money.CURRENCIES)))
    sku = fields.String(allow_none=True, load_default=None,
                        validate=[validate.Length(min=1, max=64), *_TEXT])
    active = StrictBoolean(load_default=True)
    # null (or left out): stock is not tracked, no limit.
    stock = fields.Nested(StockSchema, allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=True)
    def price_fits_its_currency(self, data, **kwargs):
        if not money.fits_currency(data['unit_price'], data['currency']):
            raise ValidationError(
                f"Must have at most {money.places(data['currency'])} decimal places in "
                f"{data['currency']}.", 'unit_price')


class QueryBoolean(fields.Field):
    default_error_messages = {'invalid': 'Must be true or false.'}

    def _deserialize(self, value, attr, data, **kwargs):
        if value not in ('true', 'false'):
            raise self.make_error('invalid')
        return value == 'true'


class ProductListQuerySchema(Schema):
    active = QueryBoolean()
    page = QueryInteger(validate=validate.Range(min=1))
    page_size = QueryInteger(load_default=10, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(min=1, max=512))

    @validates_schema(skip_on_field_errors=True)
    def page_fits(self, data, **kwargs):
        if 'page' in data and 'cursor' in data:
            raise ValidationError('Use either page or cursor, not both.', 'page')
        if (data.get('page', 1) - 1) * data['page_size'] > MAX_ID:
            raise ValidationError('Page is out of range.', 'page')


_product = ProductSchema()
_list_query = ProductListQuerySchema()
_path_id = QueryInteger(validate=validate.Range(min=1, max=MAX_ID))


def load_product(body: dict[str, Any]) -> dict[str, Any]:
    return load(_product, body, 'Invalid product')  # type: ignore[no-any-return]


def load_list_query(params: dict[str, str] | None) -> dict[str, Any]:
    params = {name: value for name, value in (params or {}).items() if value != ''}
    return load(_list_query, params, 'Invalid query parameters')  # type: ignore[no-any-return]


def load_product_id(value: str) -> int:
    try:
        return _path_id.deserialize(value)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise InvalidInput('Invalid product_id', {'product_id': exc.messages}) from None


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
        state = json.loads(base64.urlsafe_b64decode((cursor + '=' * (-len(cursor) % 4))
                                                    .encode('ascii')))
    except (ValueError, UnicodeError, binascii.Error):
        raise malformed from None
    if not isinstance(state, dict) or set(state) - {'after', 'active'}:
        raise malformed
    after, remembered = state.get('after'), state.get('active')
    if type(after) is not int or not 1 <= after <= MAX_ID \
            or not (remembered is None or isinstance(remembered, bool)):
        raise malformed
    if active is not None and active != remembered:
        raise InvalidInput('Invalid query parameters', {
            'active': ['Does not match the filter the cursor was made with.']})
    return after, remembered


def dump_product(product: Any, staff_view: bool) -> dict[str, Any]:
    """Staff and services see the whole stock; a customer only what is available."""
    stock = None
    if product.on_hand is not None:
        available = max(product.on_hand - product.reserved, 0)
        stock = ({'on_hand': product.on_hand, 'reserved': product.reserved,
                  'available': available} if staff_view else {'available': available})
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
