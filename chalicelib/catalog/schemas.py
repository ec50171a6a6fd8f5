"""The catalog's requests (marshmallow). The answers are in answers.py: a GET of a
product never loads marshmallow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, post_load, validate, validates_schema

from chalicelib.catalog.commands import ProductListQuery, ProductWrite
from chalicelib.core import money
from chalicelib.core.inputs import (
    FitsCurrency,
    FreeText,
    Money,
    PageQuerySchema,
    StrictInteger,
    check_field_rules,
    load,
    not_blank,
    page_request,
    printable,
    query_values,
)

MAX_ON_HAND = 10**9
TAX_CLASS_RULES = validate.Regexp(
    '^[a-z0-9_-]{1,32}$', error='Must be 1..32 of a-z 0-9 _ -: standard, reduced.'
)
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
    tax_class = fields.String(load_default='standard', validate=TAX_CLASS_RULES)

    field_rules = (FitsCurrency('unit_price', 'currency'),)

    @validates_schema(skip_on_field_errors=True)
    def price_fits_its_currency(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_field_rules(self.field_rules, data)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> ProductWrite:
        stock = data.pop('stock')
        return ProductWrite(**data, on_hand=stock['on_hand'] if stock is not None else None)


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

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> ProductListQuery:
        return ProductListQuery(page_request(data), data.get('active'))


_product = ProductSchema()
_list_query = ProductListQuerySchema()


def load_product(body: dict[str, Any]) -> ProductWrite:
    return load(_product, body, 'Invalid product')


def load_list_query(params: dict[str, str] | None) -> ProductListQuery:
    return load(_list_query, query_values(params, _list_query), 'Invalid query parameters')
