"""The return requests' rules (marshmallow): unknown fields refused, strict
integers, lists counted before their entries are read, free text by the one
rule. The answers are in answers.py: a GET of a return never loads marshmallow."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate, validates_schema

from chalicelib.catalog.schemas import StrictBoolean
from chalicelib.core.ids import MAX_ID
from chalicelib.core.inputs import (
    BoundedList,
    ByValue,
    FreeText,
    Money,
    OnlyWith,
    Requires,
    StrictInteger,
    check_field_rules,
    load,
    not_blank,
)
from chalicelib.returns.commands import NewReturn, ReceivedLine, ReturnLine, ReturnUpdate
from chalicelib.returns.rules import DECLINED, RECEIVED, TARGETS

MAX_LINES = 100


def _text() -> fields.String:
    """Free text up to 500 characters, lines allowed (a reason, a note)."""
    return fields.String(
        validate=[validate.Length(min=1, max=500), not_blank, FreeText(multi_line=True)]
    )


def _item_id() -> StrictInteger:
    return StrictInteger(required=True, validate=validate.Range(min=1, max=MAX_ID))


class ReturnLineSchema(Schema):
    order_item_id = _item_id()
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=10000))
    reason = _text()

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> ReturnLine:
        return ReturnLine(**data)


class NewReturnSchema(Schema):
    # Counted before any entry is read: a refusal stays cheap however long the list.
    items = BoundedList(
        fields.Nested(ReturnLineSchema), required=True, min_length=1, max_length=MAX_LINES
    )
    note = _text()

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> NewReturn:
        return NewReturn(tuple(data['items']), data.get('note'))


class ReceivedLineSchema(Schema):
    order_item_id = _item_id()
    received = StrictInteger(required=True, validate=validate.Range(min=0, max=10000))
    restock = StrictBoolean(required=True)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> ReceivedLine:
        return ReceivedLine(**data)


class ReturnUpdateSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(TARGETS))
    # Why: a decline's (required), a receipt's deduction's (required), or any
    # move's (kept in the order's history).
    reason = _text()
    items = BoundedList(fields.Nested(ReceivedLineSchema), min_length=1, max_length=MAX_LINES)
    # A return-shipping or restocking fee kept off the refund.
    deduction = Money()

    field_rules = (
        OnlyWith('items', 'status', RECEIVED),
        OnlyWith('deduction', 'status', RECEIVED),
        ByValue('status', RECEIVED, required=('items',)),
        ByValue('status', DECLINED, required=('reason',)),
        Requires('deduction', ('reason',), 'reason', 'Required with deduction: say why.'),
    )

    @validates_schema(skip_on_field_errors=True)
    def details_fit_the_status(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_field_rules(self.field_rules, data)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> ReturnUpdate:
        items = data.get('items')
        return ReturnUpdate(
            data['status'],
            data.get('reason'),
            tuple(items) if items is not None else None,
            data.get('deduction'),
        )


_new_return = NewReturnSchema()
_return_update = ReturnUpdateSchema()


def load_new_return(body: dict[str, Any]) -> NewReturn:
    return load(_new_return, body, 'Invalid return')


def load_return_update(body: dict[str, Any]) -> ReturnUpdate:
    return load(_return_update, body, 'Invalid return update')
