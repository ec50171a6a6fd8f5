"""What every request body and query is held to, whichever domain it is for
(orders, the catalog): a JSON object with exact numbers, strict integers,
money checked and never rounded, integers written in a query or path, and
free text without control characters. marshmallow fields and rules; no
domain, no database."""
import json
import re
from decimal import Decimal

from marshmallow import ValidationError, fields

from chalicelib import money
from chalicelib.errors import InvalidInput, PayloadTooLarge

MAX_BODY_BYTES = 256 * 1024
MAX_ID = 2 ** 63 - 1  # what a BIGINT column holds
_DIGITS = re.compile(r'[0-9]{1,19}')


def _reject_constant(name):
    raise ValueError(f'{name} is not a valid JSON number')


def parse_json_object(raw_body):
    """Parse a request body into a dict; numbers with a fraction become Decimal
    so that money is exact from the first byte."""
    if raw_body and len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f'Request body is larger than {MAX_BODY_BYTES} bytes')
    try:
        text = raw_body.decode('utf-8') if isinstance(raw_body, bytes) else raw_body
        body = json.loads(text, parse_float=Decimal,
                          parse_constant=_reject_constant)
    except (ValueError, TypeError, RecursionError):
        raise InvalidInput('Request body is not valid JSON') from None
    if not isinstance(body, dict):
        raise InvalidInput('Request body must be a JSON object')
    return body


class StrictInteger(fields.Integer):
    """A JSON integer: "1", 1.5, 1.0 and true are refused."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error('invalid')
        return super()._deserialize(value, attr, data, **kwargs)


class Money(fields.Field):
    """A JSON number >= 0, <= 99999999.99, with at most two decimals: checked,
    never rounded."""
    default_error_messages = {
        'invalid': 'Not a valid number.',
        'range': 'Must be greater than or equal to 0 and less than or equal '
                 'to 99999999.99.',
        'places': 'Must have at most two decimal places.',
    }

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return money.parse(value)
        except money.MoneyError as exc:
            raise self.make_error(exc.reason) from None


class QueryInteger(fields.Integer):
    """An integer written in a query string or path: plain digits only."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _DIGITS.fullmatch(value):
            raise self.make_error('invalid')
        return super()._deserialize(value, attr, data, **kwargs)


def not_blank(value):
    if not value.strip():
        raise ValidationError('Must not be blank.')


def printable(value):
    # Unicode letters are fine (a name in its own language); control, format
    # (bidirectional controls among them), surrogate and separator characters
    # other than the space are not.
    if not value.isprintable():
        raise ValidationError('Must be printable characters.')


def load(schema, data, message):
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(message, exc.normalized_messages()) from None
