"""The refund request's rules (marshmallow). The answers are in answers.py: a
GET of a refund never loads marshmallow."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from chalicelib.core.errors import InvalidInput
from chalicelib.core.inputs import BoundedList
from chalicelib.orders.schemas import MAX_ID, Money, StrictInteger, reason_rules


class RefundItemSchema(Schema):
    order_item_id = StrictInteger(required=True, validate=validate.Range(min=1, max=MAX_ID))
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=10000))


class RefundRequestSchema(Schema):
    """amount, or items, or neither (everything still refundable); not both."""

    amount = Money()
    # Counted before any entry is read: a refusal stays cheap however long the list.
    items = BoundedList(fields.Nested(RefundItemSchema), min_length=1, max_length=100)
    reason = fields.String(validate=reason_rules())

    @validates_schema(skip_on_field_errors=True)
    def amount_or_items(self, data: dict, **kwargs: object) -> None:
        if 'amount' in data and 'items' in data:
            raise ValidationError('Give amount or items, not both.', 'amount')


_refund_request = RefundRequestSchema()


def load_refund_request(body: dict) -> dict:
    try:
        return _refund_request.load(body)
    except ValidationError as exc:
        raise InvalidInput('Invalid refund', exc.normalized_messages()) from None
