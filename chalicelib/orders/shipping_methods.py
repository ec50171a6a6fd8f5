"""Shipping methods, kept by staff like products: a name, a price in a
currency, the countries it ships to and a subtotal from which it is free.
Any valid token reads the active ones. Once a shop has an active method, a
customer's order names one that ships to its address (orders/service.py).
The SQL is kept here, beside its one user."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core import money
from chalicelib.core.clock import utc_iso, utcnow
from chalicelib.core.errors import (
    Forbidden,
    InvalidInput,
    ShippingMethodNotFound,
    ShippingMethodRefused,
    VersionMismatch,
)
from chalicelib.identity.principal import CUSTOMER, SERVICE, STAFF, Principal
from chalicelib.orders.totals import Shipping
from chalicelib.platform.logs import log
from chalicelib.storage import statements
from chalicelib.storage.connection import database, retry_when_busy
from chalicelib.storage.model_rows import column_list
from chalicelib.storage.models import ShippingMethod

_COLUMNS = column_list(ShippingMethod)
METHOD = statements.Statement(
    ShippingMethod, f'SELECT {_COLUMNS} FROM shipping_methods WHERE code = :code'
)
METHOD_FOR_UPDATE = statements.Statement(
    ShippingMethod,
    f'SELECT {_COLUMNS} FROM shipping_methods WHERE code = :code',
    for_update=True,
)
ALL_METHODS = statements.Statement(
    ShippingMethod, f'SELECT {_COLUMNS} FROM shipping_methods ORDER BY code'
)
ANY_ACTIVE = statements.Statement(
    ShippingMethod, 'SELECT code FROM shipping_methods WHERE active = :active LIMIT 1'
)
REPLACE = statements.Statement(
    ShippingMethod,
    'UPDATE shipping_methods SET name = :name, price = :price, currency = :currency, '
    'countries = :countries, free_over = :free_over, active = :active, '
    'version = version + 1, updated_at = :updated_at WHERE code = :code',
)
_CODE = re.compile(r'[a-z0-9-]{1,32}')


@dataclass(frozen=True)
class PutShippingMethod:
    """A PUT /shipping-methods/{code} body, as the schema loads it."""

    name: str
    price: Decimal
    currency: str
    countries: tuple[str, ...]
    free_over: Decimal | None = None
    active: bool = True


@dataclass(frozen=True)
class Written:
    body: dict[str, Any]
    created: bool


@dataclass(frozen=True)
class Chosen:
    """The method an order ships with, as the order keeps it."""

    code: str
    name: str
    shipping: Shipping


def path_code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise InvalidInput('Invalid code', {'code': ['Must be 1..32 of a-z 0-9 -.']})
    return value


def shop_ships() -> bool:
    """Whether the shop has an active method (then customers must choose one)."""
    return bool(statements.fetch(ANY_ACTIVE, active=True))


def choose(code: str, country: str, currency: str) -> Chosen:
    """The method `code`, if it may ship an order in `currency` to `country`;
    else ShippingMethodRefused (409) saying why."""
    rows = statements.fetch(METHOD, code=code)
    if not rows or not rows[0].active:
        raise _refused('Not a shipping method of this shop.')
    row = rows[0]
    if row.currency != currency:
        raise _refused(f'Charges in {row.currency}, this order is in {currency}.')
    if country not in json.loads(row.countries):
        raise _refused(f'Does not ship to {country}.')
    return Chosen(row.code, row.name, Shipping(row.price, row.free_over))


def countries_of(code: str, currency: str) -> frozenset[str]:
    """Where the method `code` ships an order in `currency` now: nowhere
    once the shop retired it, deleted it or charges it in another currency."""
    rows = statements.fetch(METHOD, code=code)
    if not rows or not rows[0].active or rows[0].currency != currency:
        return frozenset()
    return frozenset(json.loads(rows[0].countries))


def _refused(message: str) -> ShippingMethodRefused:
    return ShippingMethodRefused(
        'This shipping method cannot ship this order', {'shipping_method': [message]}
    )


def dump(row: ShippingMethod) -> dict[str, Any]:
    return {
        'code': row.code,
        'name': row.name,
        'price': money.to_json(row.price),
        'currency': row.currency,
        'countries': json.loads(row.countries),
        'free_over': None if row.free_over is None else money.to_json(row.free_over),
        'active': bool(row.active),
        'version': row.version,
        'updated_at': utc_iso(row.updated_at),
    }


def _check_can_read(principal: Principal) -> None:
    if principal.role not in (CUSTOMER, STAFF, SERVICE):
        raise Forbidden('This caller may not read shipping methods')


class ShippingMethodService:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock

    def get(self, principal: Principal, code: str) -> dict[str, Any]:
        _check_can_read(principal)
        rows = statements.fetch(METHOD, code=code)
        if not rows or (principal.role == CUSTOMER and not rows[0].active):
            raise ShippingMethodNotFound()
        return dump(rows[0])

    def list(self, principal: Principal, query: dict[str, Any]) -> dict[str, Any]:
        """Those that apply (active ones to a customer; `country`, `currency`
        filters), by code, paged like products (`page` or `cursor`). A shop
        has few methods: they are filtered here, not in SQL."""
        _check_can_read(principal)
        country, currency = query.get('country'), query.get('currency')
        after = None
        page = None
        if 'cursor' in query:
            after, country, currency = _decode_cursor(query['cursor'], country, currency)
        else:
            page = query.get('page', 1)
        rows = [
            row
            for row in statements.fetch(ALL_METHODS)
            if (principal.role != CUSTOMER or row.active)
            and (country is None or country in json.loads(row.countries))
            and (currency is None or row.currency == currency)
        ]
        page_size = query['page_size']
        start = (
            sum(1 for row in rows if row.code <= after)
            if after is not None
            else ((page or 1) - 1) * page_size
        )
        shown = rows[start : start + page_size]
        more = start + page_size < len(rows)
        return {
            'shipping_methods': [dump(row) for row in shown],
            'total': len(rows),
            'page': page,
            'page_size': page_size,
            'next_cursor': _encode_cursor(shown[-1].code, country, currency) if more else None,
        }

    @retry_when_busy
    def put(
        self,
        principal: Principal,
        code: str,
        command: PutShippingMethod,
        expected_version: int | None = None,
    ) -> Written:
        if principal.role != STAFF:
            raise Forbidden('Only staff may change shipping methods')
        values = {
            'code': code,
            'name': command.name,
            'price': command.price,
            'currency': command.currency,
            'countries': json.dumps(sorted(set(command.countries))),
            'free_over': command.free_over,
            'active': command.active,
            'updated_at': self.clock(),
        }
        with database.atomic():
            current = statements.fetch(METHOD_FOR_UPDATE, code=code)
            if expected_version is not None and (
                not current or current[0].version != expected_version
            ):
                raise VersionMismatch(
                    f'Shipping method {code} is at version {current[0].version}, '
                    f'not {expected_version}'
                    if current
                    else f'Shipping method {code} does not exist yet'
                )
            if current:
                statements.run(REPLACE, **values)
            else:
                statements.insert(ShippingMethod, [{**values, 'version': 1}])
            row = statements.fetch(METHOD, code=code)[0]
        log.info('Shipping method %s: code=%s', 'replaced' if current else 'created', code)
        return Written(dump(row), not current)


def _encode_cursor(after: str, country: str | None, currency: str | None) -> str:
    state = {'after': after, 'country': country, 'currency': currency}
    raw = json.dumps(state, separators=(',', ':')).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def _decode_cursor(
    cursor: str, country: str | None, currency: str | None
) -> tuple[str, str | None, str | None]:
    """(the last code served, the filters it was made with); a filter
    repeated in the query must be the cursor's."""
    malformed = InvalidInput('Invalid query parameters', {'cursor': ['Not a valid cursor.']})
    try:
        state = json.loads(
            base64.urlsafe_b64decode((cursor + '=' * (-len(cursor) % 4)).encode('ascii'))
        )
    except (ValueError, UnicodeError, binascii.Error):
        raise malformed from None
    if not isinstance(state, dict) or set(state) != {'after', 'country', 'currency'}:
        raise malformed
    after = state['after']
    if not isinstance(after, str) or not _CODE.fullmatch(after):
        raise malformed
    for name, asked in (('country', country), ('currency', currency)):
        remembered = state[name]
        if remembered is not None and not isinstance(remembered, str):
            raise malformed
        if asked is not None and asked != remembered:
            raise InvalidInput(
                'Invalid query parameters',
                {name: ['Does not match the filter the cursor was made with.']},
            )
    return after, state['country'], state['currency']
