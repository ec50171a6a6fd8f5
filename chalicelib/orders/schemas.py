"""Request validation (marshmallow). The answers' shapes are in answers.py:
a GET of one order never loads marshmallow (app.py and the service import this
module lazily)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from chalicelib.catalog.schemas import TAX_CLASS_RULES, StrictBoolean
from chalicelib.core import money
from chalicelib.core.errors import InvalidInput
from chalicelib.core.ids import MAX_ID

# Re-exported: the routes and tools read the body rules here.
from chalicelib.core.inputs import (
    MAX_BODY_BYTES,  # noqa: F401
    AtLeastOne,
    BoundedList,
    ByValue,
    FieldRule,
    FitsCurrency,
    FreeText,
    Money,
    OnlyWith,
    PageQuerySchema,
    QueryInteger,
    Requires,
    StrictInteger,
    check_field_rules,
    load,
    not_blank,
    page_request,
    parse_json_object,  # noqa: F401
    printable,
    query_values,
)
from chalicelib.orders import addresses, discounts, shipping_methods, tax_rates
from chalicelib.orders.commands import (
    DETAIL_STATUS,
    AddressChange,
    ExportRange,
    NewOrder,
    NewOrderItem,
    OrderListQuery,
    OrderUpdate,
)
from chalicelib.orders.lifecycle import STATUSES

_PRINTABLE_ASCII = re.compile(r'[\x20-\x7e]*')
_ISO_DATE = re.compile(r'[0-9]{4}-[0-9]{2}-[0-9]{2}')
_TRACKING_NUMBER = re.compile(r'[A-Za-z0-9-]+')
# The characters RFC 3986 lets a URL hold; anything else is percent-encoded.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")


def _plain_address(value: str) -> None:
    # Email headers are ASCII: anything else would be encoded, and "=?" in an
    # address would be decoded, by the mail library, changing the recipient.
    if not _PRINTABLE_ASCII.fullmatch(value) or '=?' in value:
        raise ValidationError('Must be printable ASCII, without "=?".')


def _id_field(**kwargs: Any) -> StrictInteger:
    return StrictInteger(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class OrderItemSchema(Schema):
    product_id = _id_field(required=True)
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=10000))
    # Left out, the line is priced from the catalog (catalog/pricing.py says
    # what one sent must be).
    price_at_order = Money()

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> NewOrderItem:
        return NewOrderItem(**data)


# A marshmallow validator: raises ValidationError or returns anything.
_Rule = Callable[[Any], Any]
_EMAIL_RULES: list[_Rule] = [validate.Length(max=254), _plain_address, validate.Email()]


def _text(low: int, high: int, **kwargs: Any) -> fields.String:
    rules: list[_Rule] = [validate.Length(min=low, max=high), FreeText()]
    if low:
        rules.append(not_blank)
    return fields.String(validate=rules, **kwargs)


class AddressSchema(Schema):
    """An address's fields; its country's rules (postal code, region) are
    addresses.checked's, run once the fields are well formed."""

    name = _text(1, 100, required=True)
    company = _text(0, 100, allow_none=True)
    line1 = _text(1, 200, required=True)
    line2 = _text(0, 200, allow_none=True)
    city = _text(1, 100, required=True)
    region = fields.String(
        allow_none=True, validate=validate.Regexp('^[A-Z0-9]{1,3}$', error='Not a region code.')
    )
    postal_code = _text(0, 20, allow_none=True)
    country = fields.String(
        required=True,
        validate=validate.Regexp('^[A-Z]{2}$', error='Must be an ISO 3166-1 alpha-2 code: US.'),
    )
    phone = fields.String(
        allow_none=True,
        validate=validate.Regexp(r'^\+[1-9][0-9]{1,14}$', error='Must be E.164: +12175550100.'),
    )

    @post_load
    def by_country_rules(self, data: dict[str, Any], **kwargs: Any) -> addresses.Address:
        try:
            return addresses.checked(data)
        except addresses.AddressRefused as refused:
            raise ValidationError(refused.errors) from None


class Rate(fields.Field):
    """A tax rate: a JSON number 0 <= r < 1 with at most four decimals."""

    default_error_messages = {'invalid': 'Must be a number 0 <= r < 1 with at most 4 decimals.'}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise self.make_error('invalid')
        rate = Decimal(value)
        if not (rate.is_finite() and 0 <= rate < 1 and rate == rate.quantize(_RATE_PLACES)):
            raise self.make_error('invalid')
        return rate.quantize(_RATE_PLACES).normalize() if rate else Decimal(0)


_RATE_PLACES = Decimal('0.0001')


class TaxRateSchema(Schema):
    name = _text(1, 100, required=True)
    rates = fields.Dict(
        keys=fields.String(validate=TAX_CLASS_RULES),
        values=Rate(
            metadata={
                'type': 'number',
                'minimum': 0,
                'exclusiveMaximum': 1,
                'multipleOf': 0.0001,
                'description': 'A rate: 0.0725 is 7.25 %.',
            }
        ),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={'minProperties': 1, 'maxProperties': 50},
    )
    shipping = StrictBoolean(required=True)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> tax_rates.PutTaxRate:
        return tax_rates.PutTaxRate(**data)


_COUNTRY = validate.Regexp('^[A-Z]{2}$', error='Must be an ISO 3166-1 alpha-2 code: US.')


class ShippingMethodSchema(Schema):
    name = _text(1, 200, required=True)
    price = Money(required=True)
    currency = fields.String(required=True, validate=validate.OneOf(sorted(money.CURRENCIES)))
    countries = BoundedList(
        fields.String(validate=_COUNTRY), required=True, min_length=1, max_length=250
    )
    # Left out: never free.
    free_over = Money()
    active = StrictBoolean(load_default=True)

    field_rules = (FitsCurrency('price', 'currency'), FitsCurrency('free_over', 'currency'))

    @validates_schema(skip_on_field_errors=True)
    def amounts_fit_the_currency(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_field_rules(self.field_rules, data)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> shipping_methods.PutShippingMethod:
        return shipping_methods.PutShippingMethod(**{**data, 'countries': tuple(data['countries'])})


class ShippingMethodQuerySchema(Schema):
    country = fields.String(validate=_COUNTRY)
    currency = fields.String(validate=validate.OneOf(sorted(money.CURRENCIES)))
    page = QueryInteger(validate=validate.Range(min=1, max=10**6))
    page_size = QueryInteger(load_default=10, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(min=1, max=512))

    @validates_schema(skip_on_field_errors=True)
    def page_or_cursor(self, data: dict[str, Any], **kwargs: Any) -> None:
        if 'page' in data and 'cursor' in data:
            raise ValidationError('Use either page or cursor, not both.', 'page')


class UtcTime(fields.Field):
    """A UTC time written as the answers write it: 2026-12-24T00:00:00Z, with
    optional fractions of a second; naive UTC in Python, like the columns."""

    default_error_messages = {'invalid': 'Must be a UTC time: 2026-12-24T00:00:00Z.'}
    _PATTERN = re.compile(r'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z')

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> datetime:
        if not isinstance(value, str) or not self._PATTERN.fullmatch(value):
            raise self.make_error('invalid')
        try:
            return datetime.fromisoformat(value[:-1])
        except ValueError:
            raise self.make_error('invalid') from None


_UTC_TIME = {
    'type': 'string',
    'format': 'date-time',
    'pattern': '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?Z$',
}


class DiscountSchema(Schema):
    type = fields.String(
        required=True, validate=validate.OneOf(['percent', 'fixed', 'free_shipping'])
    )
    value = Money()
    currency = fields.String(validate=validate.OneOf(sorted(money.CURRENCIES)))
    min_subtotal = Money()
    starts_at = UtcTime(metadata=_UTC_TIME)
    ends_at = UtcTime(metadata=_UTC_TIME)
    usage_limit = StrictInteger(validate=validate.Range(min=1, max=10**9))
    per_customer_limit = StrictInteger(validate=validate.Range(min=1, max=10**9))
    product_ids = BoundedList(_id_field(), min_length=1, max_length=1000)
    active = StrictBoolean(load_default=True)

    # What each type takes: a percentage, an amount in a currency, or nothing
    # (the shipping fee is the discount).
    field_rules: tuple[FieldRule, ...] = (
        ByValue(
            'type', 'percent', required=('value',), bounded=(('value', Decimal(0), Decimal(100)),)
        ),
        ByValue(
            'type',
            'fixed',
            required=('value', 'currency'),
            bounded=(('value', Decimal(0), None),),
            fits=(FitsCurrency('value', 'currency'),),
        ),
        ByValue('type', 'free_shipping', refused=('value',)),
        Requires('min_subtotal', ('currency',), 'currency', 'Required with min_subtotal.'),
        FitsCurrency('min_subtotal', 'currency'),
    )

    @validates_schema(skip_on_field_errors=True)
    def fits_its_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_field_rules(self.field_rules, data)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> discounts.PutDiscount:
        ids = data.get('product_ids')
        return discounts.PutDiscount(**{**data, 'product_ids': None if ids is None else tuple(ids)})


class CreateOrderSchema(Schema):
    # Left out, the order is the caller's own (the access rules decide).
    user_id = _id_field()
    user_email = fields.String(allow_none=True, validate=_EMAIL_RULES)
    items = BoundedList(fields.Nested(OrderItemSchema), required=True, min_length=1, max_length=100)
    # Left out, the order's products (or DEFAULT_CURRENCY) decide.
    currency = fields.String(validate=validate.OneOf(sorted(money.CURRENCIES)))
    shipping_address = fields.Nested(AddressSchema, allow_none=True)
    # null or left out: the same as the shipping address.
    billing_address = fields.Nested(AddressSchema, allow_none=True)
    # What the page showed: a total the server computes otherwise is a 409.
    expected_total = Money()
    shipping_method = fields.String(
        validate=validate.Regexp('^[a-z0-9-]{1,32}$', error='Must be 1..32 of a-z 0-9 -.')
    )
    # Compared upper-case, like the codes are kept.
    discount_code = fields.String(
        validate=validate.Regexp('^[A-Za-z0-9_-]{3,32}$', error='Must be 3..32 of A-Z a-z 0-9 - _.')
    )

    # A method ships to an address.
    field_rules: tuple[FieldRule, ...] = (
        Requires(
            'shipping_method',
            ('shipping_address',),
            'shipping_address',
            'Required with shipping_method.',
        ),
    )

    @validates_schema(skip_on_field_errors=True)
    def a_method_ships_to_an_address(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_field_rules(self.field_rules, data)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> NewOrder:
        return NewOrder(**{**data, 'items': tuple(data['items'])})


def _tracking_characters(value: str) -> None:
    # fullmatch: a pattern's $ would let a trailing newline through.
    if not _TRACKING_NUMBER.fullmatch(value):
        raise ValidationError('Must be letters A-Z a-z, digits and hyphens.')


def _url_without_userinfo(value: str) -> None:
    # https://carrier.example@evil.example/ reads as the carrier's link and
    # opens another host: no user part in a link the shop sends out.
    if not _URL_CHARACTERS.fullmatch(value):
        raise ValidationError('Must hold only URL characters (percent-encode the rest).')
    try:
        netloc = urlsplit(value).netloc
    except ValueError:  # brackets that hold no IPv6 address: https://[::g]/
        raise ValidationError('Must be an https:// URL.') from None
    if '@' in netloc:
        raise ValidationError('Must not carry a user name or password.')


_CARRIER_RULES: list[_Rule] = [validate.Length(min=1, max=50), FreeText(), printable, not_blank]
_TRACKING_NUMBER_RULES: list[_Rule] = [validate.Length(min=1, max=100), _tracking_characters]
_TRACKING_URL_RULES: list[_Rule] = [
    validate.Length(min=1, max=500),
    _url_without_userinfo,
    validate.URL(schemes={'https'}, require_tld=True, error='Must be an https:// URL.'),
]
_REASON_RULES: list[_Rule] = [validate.Length(min=1, max=500), not_blank, FreeText(multi_line=True)]


def reason_rules() -> list[_Rule]:
    """What a free-text reason must be (a cancellation's, a refund's)."""
    return list(_REASON_RULES)


# An IPv6 address as urlsplit's check (ipaddress) reads one, within what
# validate.URL takes in brackets (hex digits and colons, no embedded IPv4).
_H = '[0-9A-Fa-f]{1,4}'
_IPV6 = (
    rf'(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|(?:{_H}:){{1,6}}:{_H}'
    rf'|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}'
    rf'|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}'
    rf'|{_H}:(?::{_H}){{1,6}}|:(?:(?::{_H}){{1,7}}|:))'
)
# What the OpenAPI document says of tracking_url: https, a host as
# validate.URL(require_tld=True) reads one (a domain with a dot, localhost, an
# IPv4 or an IPv6 address in brackets), an optional port, then a path, query or
# fragment of URL characters; no user part (the host has no @).
_HOST = (
    r'(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,}\.?'
    r'|[Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]'
    r'|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}'
    r'|\[' + _IPV6 + r'\])'
)
_TRACKING_URL_PATTERN = (
    rf'^[Hh][Tt][Tt][Pp][Ss]://{_HOST}(?::[0-9]+)?'
    rf"(?:/?|[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+)$"
)


class UpdateOrderSchema(Schema):
    # metadata: the OpenAPI document's pattern for a rule that is a function
    # here, saying the same (the contract test finds any difference).
    status = fields.String(validate=validate.OneOf(STATUSES))
    # Changeable until the order ships. The shipping address is replaced,
    # never removed; a billing address of null is the shipping address.
    shipping_address = fields.Nested(AddressSchema)
    billing_address = fields.Nested(AddressSchema, allow_none=True)
    carrier = fields.String(validate=_CARRIER_RULES)
    tracking_number = fields.String(
        validate=_TRACKING_NUMBER_RULES, metadata={'pattern': '^[A-Za-z0-9-]+$'}
    )
    tracking_url = fields.String(
        validate=_TRACKING_URL_RULES, metadata={'pattern': _TRACKING_URL_PATTERN}
    )
    reason = fields.String(validate=_REASON_RULES)

    field_rules: tuple[FieldRule, ...] = (
        AtLeastOne(
            ('status', 'shipping_address', 'billing_address'),
            'Send a status, a shipping_address or a billing_address (or several).',
        ),
        *(OnlyWith(name, 'status', status) for name, status in DETAIL_STATUS.items()),
        # A carrier without a number (or the other way round) tracks nothing;
        # a link alone names no parcel.
        Requires(
            'carrier', ('tracking_number',), 'tracking_number', 'Required together with carrier.'
        ),
        Requires(
            'tracking_number', ('carrier',), 'carrier', 'Required together with tracking_number.'
        ),
        Requires(
            'tracking_url',
            ('carrier', 'tracking_number'),
            'tracking_url',
            'Only allowed with carrier and tracking_number.',
        ),
    )

    @validates_schema(skip_on_field_errors=True)
    def details_fit_the_status(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_field_rules(self.field_rules, data)

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> OrderUpdate:
        addresses = None
        if 'shipping_address' in data or 'billing_address' in data:
            sets_billing = 'billing_address' in data
            addresses = AddressChange(
                shipping=data.pop('shipping_address', None),
                billing=data.pop('billing_address', None),
                sets_billing=sets_billing,
            )
        return OrderUpdate(**data, addresses=addresses)


class ListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    user_id = QueryInteger(validate=validate.Range(min=1, max=MAX_ID))

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> OrderListQuery:
        return OrderListQuery(page_request(data), data.get('status'), data.get('user_id'))


class UserListQuerySchema(ListQuerySchema):
    class Meta:
        exclude = ('user_id', 'status')


class QueryDate(fields.Field):
    """A calendar date written YYYY-MM-DD, nothing looser."""

    default_error_messages = {'invalid': 'Not a valid date: use YYYY-MM-DD.'}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> date:
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise self.make_error('invalid')
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.make_error('invalid') from None


_DATE_DOCUMENTED = {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'}


class ExportQuerySchema(Schema):
    """Both dates inclusive, in UTC; either may be left out (no bound)."""

    from_date = QueryDate(data_key='from', metadata=_DATE_DOCUMENTED)
    to_date = QueryDate(data_key='to', metadata=_DATE_DOCUMENTED)

    @validates_schema(skip_on_field_errors=True)
    def dates_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if 'from_date' in data and 'to_date' in data and data['from_date'] > data['to_date']:
            raise ValidationError('Must not be after to.', 'from')

    @post_load
    def command(self, data: dict[str, Any], **kwargs: Any) -> ExportRange:
        return ExportRange(**data)


_create_order = CreateOrderSchema()
_tax_rate = TaxRateSchema()
_discount = DiscountSchema()
_shipping_method = ShippingMethodSchema()
_shipping_method_query = ShippingMethodQuerySchema()
_update_order = UpdateOrderSchema()
_list_query = ListQuerySchema()
_user_list_query = UserListQuerySchema()
_export_query = ExportQuerySchema()


def load_create_order(body: dict[str, Any]) -> NewOrder:
    return load(_create_order, body, 'Invalid order')


def load_tax_rate(body: dict[str, Any]) -> tax_rates.PutTaxRate:
    loaded: Any = load(_tax_rate, body, 'Invalid tax rates')
    return cast(tax_rates.PutTaxRate, loaded)


def load_shipping_method(body: dict[str, Any]) -> shipping_methods.PutShippingMethod:
    loaded: Any = load(_shipping_method, body, 'Invalid shipping method')
    return cast(shipping_methods.PutShippingMethod, loaded)


def load_shipping_method_query(params: Mapping[str, str] | None) -> dict[str, Any]:
    params = {name: value for name, value in (params or {}).items() if value != ''}
    return load(_shipping_method_query, params, 'Invalid query parameters')


def load_discount(body: dict[str, Any]) -> discounts.PutDiscount:
    loaded: Any = load(_discount, body, 'Invalid discount code')
    return cast(discounts.PutDiscount, loaded)


def verified_email(address: str) -> str | None:
    """A token's verified email if it passes the rules a body's address must
    pass, else None: an address we would refuse from a client is never
    written into an email header because an issuer vouched for it."""
    try:
        for rule in _EMAIL_RULES:
            rule(address)
    except ValidationError:
        return None
    return address


def load_update_order(
    body: dict[str, Any], tracking_url_hosts: tuple[str, ...] = ()
) -> OrderUpdate:
    """The status change a body asks for. With `tracking_url_hosts`, a
    tracking_url must point at one of them or a subdomain of one: the link
    goes out in a shop-branded email, and a leaked service credential must
    not be able to send customers anywhere it likes."""
    update: OrderUpdate = load(_update_order, body, 'Invalid order update')
    url = update.tracking_url
    if url is not None and tracking_url_hosts:
        host = (urlsplit(url).hostname or '').rstrip('.')
        if not any(
            host == allowed or host.endswith('.' + allowed) for allowed in tracking_url_hosts
        ):
            raise InvalidInput(
                'Invalid order update',
                {
                    'tracking_url': [
                        "Must link to a carrier's site the shop allows (TRACKING_URL_HOSTS)."
                    ]
                },
            )
    return update


def load_list_query(params: Mapping[str, str] | None, for_user: bool = False) -> OrderListQuery:
    schema = _user_list_query if for_user else _list_query
    return load(schema, query_values(params, schema), 'Invalid query parameters')


def load_export_query(params: Mapping[str, str] | None) -> ExportRange:
    return load(_export_query, query_values(params, _export_query), 'Invalid query parameters')
