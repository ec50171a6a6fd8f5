"""What every request body and query is held to, before any schema reads it,
whichever domain it is for (orders, the catalog): a bounded body, bounded
lists, exact numbers, strict integers, money checked and never rounded,
integers written in a query or path, and one rule for free text.

A refusal must stay cheap whoever built the request: the body is measured
before it is decoded, a list's length before its first entry is loaded, and
an error answer lists a bounded number of problems (errors.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from chalicelib.core import money
from chalicelib.core.errors import InvalidInput, PayloadTooLarge
from chalicelib.core.ids import MAX_ID
from chalicelib.core.paging import PageRequest
from chalicelib.core.text import MULTI_LINE_REFUSED, ONE_LINE_REFUSED

MAX_BODY_BYTES = 64 * 1024
_DIGITS = re.compile(r'[0-9]{1,19}')


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f'{name} is not a valid JSON number')


def parse_json_object(raw_body: bytes | str | None) -> dict:
    """Parse a request body into a dict; numbers with a fraction become Decimal
    so that money is exact from the first byte."""
    if raw_body and len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f'Request body is larger than {MAX_BODY_BYTES} bytes')
    try:
        text = raw_body.decode('utf-8') if isinstance(raw_body, bytes) else raw_body
        # No body at all is as invalid as an empty one.
        body = json.loads(text or '', parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, TypeError, RecursionError):
        raise InvalidInput('Request body is not valid JSON') from None
    if not isinstance(body, dict):
        raise InvalidInput('Request body must be a JSON object')
    return body


class BoundedList(fields.List):
    """A list of min_length..max_length entries whose length is checked before
    any entry is loaded: marshmallow's own Length runs after every entry was
    deserialized, so a body of 80,000 empty objects would be read (and
    answered with 80,000 errors) before it was found too long. The Length
    validator stays too, so the OpenAPI document shows minItems/maxItems."""

    def __init__(
        self, cls_or_instance: Any, *, min_length: int, max_length: int, **kwargs: Any
    ) -> None:
        self.length = validate.Length(min=min_length, max=max_length)
        super().__init__(cls_or_instance, validate=self.length, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, (list, tuple)):
            self.length(value)  # counts the entries, reads none of them
        return super()._deserialize(value, attr, data, **kwargs)


class FreeText(validate.Validator):
    """The one rule for human-written text (core/text.py says which
    characters it refuses, and why); `multi_line` lets tabs and line breaks
    (CR, LF) through."""

    def __init__(self, multi_line: bool = False) -> None:
        self.pattern = MULTI_LINE_REFUSED if multi_line else ONE_LINE_REFUSED
        self.error = 'Must not hold control, bidirectional-control or invisible characters' + (
            ' other than tabs and line breaks.' if multi_line else ' (nor tabs or line breaks).'
        )

    def __call__(self, value: str) -> str:
        found = self.pattern.search(value)
        if found:
            raise ValidationError(
                f'{self.error} Found U+{ord(found.group()):04X} at position {found.start()}.'
            )
        return value


class StrictInteger(fields.Integer):
    """A JSON integer: "1", 1.5, 1.0 and true are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if isinstance(value, bool):
            raise self.make_error('invalid')
        return super()._deserialize(value, attr, data, **kwargs)


class Money(fields.Field):
    """A JSON number >= 0, <= 99999999.99, with at most two decimals: checked,
    never rounded."""

    default_error_messages = {
        'invalid': 'Not a valid number.',
        'range': 'Must be greater than or equal to 0 and less than or equal to 99999999.99.',
        'places': 'Must have at most two decimal places.',
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        try:
            return money.parse(value)
        except money.MoneyError as exc:
            raise self.make_error(exc.reason) from None


class QueryInteger(fields.Integer):
    """An integer written in a query string or path: plain digits only."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if not isinstance(value, str) or not _DIGITS.fullmatch(value):
            raise self.make_error('invalid')
        return super()._deserialize(value, attr, data, **kwargs)


# A list's paging. `page` alone may go up to 2^63 (its offset fits with a
# page_size of 1); (page - 1) x page_size must fit too (PageQuerySchema).
MAX_PAGE = MAX_ID + 1
# What encode_cursor writes: base64url without padding (a length that is never
# 1 more than a multiple of 4). What it encodes is the service's own business.
_CURSOR = re.compile(r'(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?')


def _cursor_characters(value: str) -> None:
    if not _CURSOR.fullmatch(value):
        raise ValidationError('Not a valid cursor.')


class Cursor(fields.String):
    """The `next_cursor` of an earlier page."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=[validate.Length(min=1, max=512), _cursor_characters],
            metadata={'pattern': f'^{_CURSOR.pattern}$'},
            **kwargs,
        )


def query_values(params: Mapping[str, str] | None, schema: Schema) -> dict[str, str]:
    """A query's parameters, less the empty values of those the schema knows: a
    form sends `?status=` for "no filter". An unknown name stays, to be refused,
    however empty."""
    known = {field.data_key or name for name, field in schema.fields.items()}
    return {
        name: value for name, value in (params or {}).items() if value != '' or name not in known
    }


def page_request(data: Mapping[str, Any]) -> PageRequest:
    """The page a PageQuerySchema loaded (a list's schema adds its filters)."""
    return PageRequest(data['page_size'], data.get('page'), data.get('cursor'))


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError('Must not be blank.')


def printable(value: str) -> None:
    # Unicode letters are fine (a name in its own language); control, format
    # (bidirectional controls among them), surrogate and separator characters
    # other than the space are not.
    if not value.isprintable():
        raise ValidationError('Must be printable characters.')


# Rules between the fields of one body or query, declared once as data: the
# schema's validator enforces them (check_field_rules) and the OpenAPI
# generator (tools/openapi.py) writes each as the JSON Schema keyword that
# says the same, so a client can know them before it sends anything.


@dataclass(frozen=True)
class OnlyWith:
    """`field` is allowed only when `other` is `value`."""

    field: str
    other: str
    value: str

    def problems(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if self.field in data and data.get(self.other) != self.value:
            return {self.field: [f"Only allowed with {self.other} '{self.value}'."]}
        return {}


@dataclass(frozen=True)
class Requires:
    """`field` comes only with every one of `others`, none of them null; the
    error is at `at`."""

    field: str
    others: tuple[str, ...]
    at: str
    message: str

    def problems(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if self.field in data and any(data.get(other) is None for other in self.others):
            return {self.at: [self.message]}
        return {}


@dataclass(frozen=True)
class NotTogether:
    """At most one of `fields`; the error is at the first."""

    fields: tuple[str, ...]
    message: str

    def problems(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if sum(name in data for name in self.fields) > 1:
            return {self.fields[0]: [self.message]}
        return {}


@dataclass(frozen=True)
class AtLeastOne:
    """One of `fields` at least; the error is at the first."""

    fields: tuple[str, ...]
    message: str

    def problems(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if not any(name in data for name in self.fields):
            return {self.fields[0]: [self.message]}
        return {}


@dataclass(frozen=True)
class FitsCurrency:
    """`amount` has no more decimals than `currency` allows (none for JPY)."""

    amount: str
    currency: str

    def problems(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        amount, currency = data.get(self.amount), data.get(self.currency)
        if amount is None or currency is None or money.fits_currency(amount, currency):
            return {}
        return {
            self.amount: [
                f'Must have at most {money.places(currency)} decimal places in {currency}.'
            ]
        }


@dataclass(frozen=True)
class ByValue:
    """What a body holds while `field` is `value` (a discount's `type`): every
    name in `required`, none in `refused`, each of `bounded` (name, low, high)
    more than low and at most high (None: no upper bound), and `fits` (its
    amounts in their currency's decimals)."""

    field: str
    value: str
    required: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    bounded: tuple[tuple[str, Decimal, Decimal | None], ...] = ()
    fits: tuple[FitsCurrency, ...] = ()

    def problems(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if data.get(self.field) != self.value:
            return {}
        case = f"with {self.field} '{self.value}'"
        errors: dict[str, list[str]] = {}
        for name in self.required:
            if name not in data:
                errors.setdefault(name, []).append(f'Required {case}.')
        for name in self.refused:
            if name in data:
                errors.setdefault(name, []).append(f'Not allowed {case}.')
        for name, low, high in self.bounded:
            amount = data.get(name)
            if amount is not None and not (low < amount and (high is None or amount <= high)):
                limit = f'more than {low}' + ('' if high is None else f' and at most {high}')
                errors.setdefault(name, []).append(f'Must be {limit} {case}.')
        for rule in self.fits:
            for name, messages in rule.problems(data).items():
                errors.setdefault(name, []).extend(messages)
        return errors


FieldRule = OnlyWith | Requires | NotTogether | AtLeastOne | FitsCurrency | ByValue
PAGE_OR_CURSOR = NotTogether(('page', 'cursor'), 'Use either page or cursor, not both.')


def check_field_rules(rules: Iterable[FieldRule], data: Mapping[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for rule in rules:
        for name, messages in rule.problems(data).items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)


class PageQuerySchema(Schema):
    """What every list's query string holds: a page by number or a cursor,
    never both, and the page's size; a list adds its filters."""

    page = QueryInteger(validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = QueryInteger(load_default=10, validate=validate.Range(min=1, max=100))
    cursor = Cursor()

    field_rules = (PAGE_OR_CURSOR,)

    @validates_schema(skip_on_field_errors=True)
    def page_fits(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_field_rules(self.field_rules, data)
        if (data.get('page', 1) - 1) * data['page_size'] > MAX_ID:
            raise ValidationError('Page is out of range.', 'page')


def load(schema: Schema, data: Mapping[str, Any], message: str) -> Any:
    """What the schema loads (a command of the domain, where it has one), or
    InvalidInput with every problem by field."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(message, exc.normalized_messages()) from None
