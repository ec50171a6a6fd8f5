"""The catalog's requests (marshmallow). The answers are in answers.py: a GET of a
product never loads marshmallow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from chalicelib.core import money
from chalicelib.core.inputs import (
    FreeText,
    Money,
    PageQuerySchema,
    StrictInteger,
    load,
    not_blank,
    printable,
)

MAX_ON_HAND = 10**9
_TEXT = [printable, not_blank]


class StrictBoolean(fields.Boolean):
    """true or false, nothing that merely looks like one ("true", 1)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error('invalid')
        return value


class StockSchema(Schema):
    on_hand = StrictInteger(required=True, validate=validate.Range(min=0, max=MAX_ON_HAND))


class ProductSchema(Schema):
    # A name is free text (any script, emoji sequences too); a SKU a code.
    name = fields.String(
        required=True, validate=[validate.Length(min=1, max=200), FreeText(), not_blank]
    )
    unit_price = Money(required=True)
    currency = fields.String(required=True, validate=validate.OneOf(sorted(money.CURRENCIES)))
    sku = fields.String(
        allow_none=True, load_default=None, validate=[validate.Length(min=1, max=64), *_TEXT]
    )
    active = StrictBoolean(load_default=True)
    # null (or left out): stock is not tracked, no limit.
    stock = fields.Nested(StockSchema, allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=True)
    def price_fits_its_currency(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not money.fits_currency(data['unit_price'], data['currency']):
            raise ValidationError(
                f'Must have at most {money.places(data["currency"])} decimal places in '
                f'{data["currency"]}.',
                'unit_price',
            )


class QueryBoolean(fields.Field):
    default_error_messages = {'invalid': 'Must be true or false.'}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if value not in ('true', 'false'):
            raise self.make_error('invalid')
        return value == 'true'


class ProductListQuerySchema(PageQuerySchema):
    active = QueryBoolean()


_product = ProductSchema()
_list_query = ProductListQuerySchema()


def load_product(body: dict[str, Any]) -> dict[str, Any]:
    return load(_product, body, 'Invalid product')


def load_list_query(params: dict[str, str] | None) -> dict[str, Any]:
    params = {name: value for name, value in (params or {}).items() if value != ''}
    return load(_list_query, params, 'Invalid query parameters')
