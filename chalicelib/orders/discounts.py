"""Discount codes, kept by staff, and the uses orders hold of them.

An order may carry a code; whether it applies is `check`'s to say (dates,
currency, products, minimum subtotal, limits), and totals.py allocates it.
A use is counted in the order's own transaction, under the code's row lock
taken after the product rows (so that concurrent orders lock in one fixed
order and cannot deadlock): however many copies place orders at once, no
more orders hold a code than its usage_limit, nor one customer more than its
per_customer_limit. A cancelled order (by anyone, or by expiry) and a
deleted order that never shipped give their use back. The SQL is kept here,
beside its one user."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core import money
from chalicelib.core.clock import utc_iso, utcnow
from chalicelib.core.errors import (
    DiscountNotFound,
    DiscountRefused,
    Forbidden,
    InvalidInput,
    VersionMismatch,
)
from chalicelib.identity.principal import STAFF, Principal
from chalicelib.orders.totals import Discount as Allocation
from chalicelib.platform.logs import log
from chalicelib.storage import statements
from chalicelib.storage.connection import database, retry_when_busy
from chalicelib.storage.model_rows import column_list
from chalicelib.storage.models import Discount, DiscountUse

_COLUMNS = column_list(Discount)
CODE = statements.Statement(Discount, f'SELECT {_COLUMNS} FROM discounts WHERE code = :code')
CODE_FOR_UPDATE = statements.Statement(
    Discount, f'SELECT {_COLUMNS} FROM discounts WHERE code = :code', for_update=True
)
ALL_CODES = statements.Statement(Discount, f'SELECT {_COLUMNS} FROM discounts ORDER BY code')
REPLACE = statements.Statement(
    Discount,
    'UPDATE discounts SET type = :type, value = :value, currency = :currency, '
    'min_subtotal = :min_subtotal, starts_at = :starts_at, ends_at = :ends_at, '
    'usage_limit = :usage_limit, per_customer_limit = :per_customer_limit, '
    'product_ids = :product_ids, active = :active, version = version + 1, '
    'updated_at = :updated_at WHERE code = :code',
)
USES_BY = statements.Statement(
    DiscountUse, 'SELECT COUNT(*) FROM discount_uses WHERE code = :code AND user_id = :user_id'
)
TAKE = statements.Statement(
    Discount, 'UPDATE discounts SET times_used = times_used + 1 WHERE code = :code'
)
GIVE_BACK = statements.Statement(
    Discount, 'UPDATE discounts SET times_used = times_used - 1 WHERE code = :code'
)
FORGET_USE = statements.Statement(
    DiscountUse, 'DELETE FROM discount_uses WHERE order_id = :order_id'
)
_CODE = re.compile(r'[A-Za-z0-9_-]{3,32}')
NOT_VALID = 'This code is not valid.'


@dataclass(frozen=True)
class PutDiscount:
    """A PUT /discounts/{code} body, as the schema loads it."""

    type: str
    value: Decimal | None = None
    currency: str | None = None
    min_subtotal: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None
    product_ids: tuple[int, ...] | None = None
    active: bool = True


@dataclass(frozen=True)
class Applied:
    """A code that applies to an order: how totals.py allocates it, which
    lines it reaches, and the row version it was read at."""

    code: str
    type: str
    value: Decimal | None
    allocation: Allocation
    eligible: tuple[bool, ...]
    version: int


@dataclass(frozen=True)
class Written:
    body: dict[str, Any]
    created: bool


def path_code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise InvalidInput('Invalid code', {'code': ['Must be 3..32 of A-Z a-z 0-9 - _.']})
    return value.upper()


def _refused(message: str) -> DiscountRefused:
    return DiscountRefused('This discount code does not apply', {'discount_code': [message]})


def check(
    code: str,
    user_id: int,
    currency: str,
    lines: Sequence[tuple[int, Decimal, bool]],
    now: datetime,
) -> Applied:
    """The code, if it applies to an order in `currency` of `lines`
    (product_id, line subtotal, whether the line names a catalog product);
    else DiscountRefused (409) with a message the customer can act on.
    Its limits are checked here against the counts as read; `take` checks
    them again under the code's lock."""
    rows = statements.fetch(CODE, code=code)
    row = rows[0] if rows else None
    if (
        row is None
        or not row.active
        or (row.starts_at is not None and now < row.starts_at)
        or (row.ends_at is not None and now >= row.ends_at)
    ):
        raise _refused(NOT_VALID)
    if row.currency is not None and row.currency != currency:
        raise _refused(f'This code is for orders in {row.currency}.')
    products = None if row.product_ids is None else set(json.loads(row.product_ids))
    eligible = tuple(
        in_catalog and (products is None or product_id in products)
        for product_id, _, in_catalog in lines
    )
    if not any(eligible):
        raise _refused('This code applies to none of the products of this order.')
    eligible_subtotal = sum(
        (subtotal for (_, subtotal, _), ok in zip(lines, eligible, strict=True) if ok), money.ZERO
    )
    if row.min_subtotal is not None and eligible_subtotal < row.min_subtotal:
        raise _refused(
            f'This code needs {money.display(row.min_subtotal, currency)} of eligible products.'
        )
    _check_limits(row, user_id)
    return Applied(
        code=row.code,
        type=row.type,
        value=row.value,
        allocation=Allocation(row.type, row.value or money.ZERO),
        eligible=eligible,
        version=row.version,
    )


def _check_limits(row: Discount, user_id: int) -> None:
    if row.usage_limit is not None and row.times_used >= row.usage_limit:
        raise _refused('This code has been used up.')
    if row.per_customer_limit is not None:
        used = statements.scalar(USES_BY, code=row.code, user_id=user_id)
        if used >= row.per_customer_limit:
            raise _refused('You have already used this code as often as it allows.')


def take(applied: Applied, order_id: int, user_id: int) -> bool:
    """Count the order's use, inside its transaction, after its product rows
    are locked. False: the code changed since the order read it (the caller
    prices the order again); DiscountRefused: its limits are reached."""
    rows = statements.fetch(CODE_FOR_UPDATE, code=applied.code)
    if not rows or rows[0].version != applied.version:
        return False
    _check_limits(rows[0], user_id)
    statements.run(TAKE, code=applied.code)
    statements.insert(
        DiscountUse, [{'order_id': order_id, 'code': applied.code, 'user_id': user_id}]
    )
    return True


def give_back(order_id: int, code: str | None) -> None:
    """The use an order held, given back (a cancellation, a delete before
    shipping); inside that change's transaction, after its product rows."""
    if code is None:
        return
    if statements.run(FORGET_USE, order_id=order_id).rowcount:
        statements.run(GIVE_BACK, code=code)


def dump(row: Discount) -> dict[str, Any]:
    return {
        'code': row.code,
        'type': row.type,
        'value': None if row.value is None else money.to_json(row.value),
        'currency': row.currency,
        'min_subtotal': None if row.min_subtotal is None else money.to_json(row.min_subtotal),
        'starts_at': None if row.starts_at is None else utc_iso(row.starts_at),
        'ends_at': None if row.ends_at is None else utc_iso(row.ends_at),
        'usage_limit': row.usage_limit,
        'per_customer_limit': row.per_customer_limit,
        'product_ids': None if row.product_ids is None else json.loads(row.product_ids),
        'active': bool(row.active),
        'times_used': row.times_used,
        'version': row.version,
        'updated_at': utc_iso(row.updated_at),
    }


def _check_staff(principal: Principal) -> None:
    if principal.role != STAFF:
        raise Forbidden('Only staff may read or change discount codes')


class DiscountService:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock

    def get(self, principal: Principal, code: str) -> dict[str, Any]:
        _check_staff(principal)
        rows = statements.fetch(CODE, code=code)
        if not rows:
            raise DiscountNotFound()
        return dump(rows[0])

    def list(self, principal: Principal) -> dict[str, Any]:
        _check_staff(principal)
        rows = statements.fetch(ALL_CODES)
        return {'discounts': [dump(row) for row in rows], 'total': len(rows)}

    @retry_when_busy
    def put(
        self,
        principal: Principal,
        code: str,
        command: PutDiscount,
        expected_version: int | None = None,
    ) -> Written:
        _check_staff(principal)
        values = {
            'code': code,
            'type': command.type,
            'value': command.value,
            'currency': command.currency,
            'min_subtotal': command.min_subtotal,
            'starts_at': command.starts_at,
            'ends_at': command.ends_at,
            'usage_limit': command.usage_limit,
            'per_customer_limit': command.per_customer_limit,
            'product_ids': None
            if command.product_ids is None
            else json.dumps(sorted(set(command.product_ids))),
            'active': command.active,
            'updated_at': self.clock(),
        }
        with database.atomic():
            current = statements.fetch(CODE_FOR_UPDATE, code=code)
            if expected_version is not None and (
                not current or current[0].version != expected_version
            ):
                raise VersionMismatch(
                    f'Discount {code} is at version {current[0].version}, not {expected_version}'
                    if current
                    else f'Discount {code} does not exist yet'
                )
            if current:
                statements.run(REPLACE, **values)
            else:
                statements.insert(Discount, [{**values, 'times_used': 0, 'version': 1}])
            row = statements.fetch(CODE, code=code)[0]
        log.info('Discount %s: code=%s', 'replaced' if current else 'created', code)
        return Written(dump(row), not current)
