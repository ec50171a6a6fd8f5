"""The refund request's rules (marshmallow). The answers are in answers.py: a
GET of a refund never loads marshmallow."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from chalicelib.catalog.schemas import StrictBoolean
from chalicelib.core.errors import InvalidInput
from chalicelib.core.inputs import BoundedList, NotTogether, check_field_rules
from chalicelib.orders.schemas import MAX_ID, Money, StrictInteger, reason_rules
from chalicelib.payments.commands import RefundItem, RefundRequest


class RefundItemSchema(Schema):
    order_item_id = StrictInteger(required=True, validate=validate.Range(min=1, max=MAX_ID))
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=10000))

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> RefundItem:
        return RefundItem(**data)


_AMOUNT_ALONE = 'Give amount alone, or items and/or shipping.'


class RefundRequestSchema(Schema):
    """amount alone, or items and/or shipping, or none of them (everything
    still refundable)."""

    amount = Money()
    # Counted before any entry is read: a refusal stays cheap however long the list.
    items = BoundedList(fields.Nested(RefundItemSchema), min_length=1, max_length=100)
    reason = fields.String(validate=reason_rules())
    # The shipping charged, with its tax; false is the same as leaving it out.
    shipping = StrictBoolean()

    field_rules = (
        NotTogether(('amount', 'items'), _AMOUNT_ALONE),
        NotTogether(('amount', 'shipping'), _AMOUNT_ALONE),
    )

    @validates_schema(skip_on_field_errors=True)
    def amount_or_items(self, data: dict, **kwargs: object) -> None:
        check_field_rules(self.field_rules, data)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> RefundRequest:
        items = data.get('items')
        return RefundRequest(
            data.get('amount'),
            tuple(items) if items is not None else None,
            data.get('reason'),
            data.get('shipping', False),
        )


_refund_request = RefundRequestSchema()


def load_refund_request(body: dict[str, Any]) -> RefundRequest:
    try:
        return _refund_request.load(body)
    except ValidationError as exc:
        raise InvalidInput('Invalid refund', exc.normalized_messages()) from None
