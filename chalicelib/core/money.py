"""Money: exact amounts in a currency, from the request body to the column and back.

Amounts are `Decimal` everywhere in the service. A request value is checked,
never rounded; MariaDB stores DECIMAL(10,2) and SQLite TEXT (a NUMERIC column
would hand back floats). Every amount belongs to an ISO 4217 currency and has
no more decimals than that currency's minor unit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final

CENT: Final = Decimal('0.01')
ZERO: Final = Decimal('0.00')
MAX_MONEY: Final = Decimal('99999999.99')  # what DECIMAL(10,2) holds

# The currencies the service knows, with the number of decimals of their minor
# unit. Only those whose ISO 4217 minor unit is also what Stripe charges in
# (Stripe's "zero-decimal" list for JPY and KRW) and that fit DECIMAL(10,2):
# three-decimal currencies (BHD, KWD, OMR, ...) would not fit the column, and
# ISK, HUF, TWD and UGX are charged by Stripe in a unit that differs from
# ISO 4217's, which would make "amount in minor units" ambiguous.
CURRENCIES: Final[Mapping[str, int]] = {
    'AUD': 2,
    'CAD': 2,
    'CHF': 2,
    'DKK': 2,
    'EUR': 2,
    'GBP': 2,
    'NOK': 2,
    'NZD': 2,
    'PLN': 2,
    'SEK': 2,
    'USD': 2,
    'JPY': 0,
    'KRW': 0,
}


class MoneyError(ValueError):
    """Why an amount is refused; `reason` is one of 'invalid', 'range', 'places'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(value: object) -> Decimal:
    """A JSON number (int or Decimal, never a float or bool) as an amount:
    >= 0, <= MAX_MONEY, at most two decimals. -0 becomes 0. Whether the
    amount also fits its currency is `check_places`'s to say, once the
    currency is known."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise MoneyError('invalid')
    amount = Decimal(value)
    if not amount.is_finite():
        raise MoneyError('invalid')
    if not 0 <= amount <= MAX_MONEY:
        raise MoneyError('range')
    if amount != amount.quantize(CENT):
        raise MoneyError('places')
    # -0 is 0: never store or answer a negative zero.
    return amount.quantize(CENT) if amount else ZERO


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in CURRENCIES


def places(currency: str) -> int:
    """Decimals of the currency's minor unit (KeyError for an unknown one)."""
    return CURRENCIES[currency]


def fits_currency(amount: Decimal, currency: str) -> bool:
    """No more decimals than the currency's minor unit (29.99 JPY does not)."""
    return amount == amount.quantize(Decimal(1).scaleb(-places(currency)))


def check_places(amount: Decimal, currency: str) -> Decimal:
    if not fits_currency(amount, currency):
        raise MoneyError('places')
    return amount


def order_total(items: Iterable[Mapping[str, object]]) -> Decimal:
    """Sum of quantity x price_at_order, exact."""
    return sum(
        (Decimal(str(item['quantity'])) * _decimal(item['price_at_order']) for item in items), ZERO
    )


def _decimal(value: object) -> Decimal:
    if not isinstance(value, (int, Decimal)):
        raise MoneyError('invalid')
    return Decimal(value)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """What a payment provider charges: 109.97 USD is 10997, 2400 JPY is 2400."""
    scaled = check_places(amount, currency).scaleb(places(currency))
    return int(scaled)


def from_minor_units(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-places(currency)).quantize(CENT)


def to_column(amount: Decimal) -> str:
    return str(Decimal(amount).quantize(CENT))


def from_column(value: object) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def to_json(amount: Decimal) -> float:
    # A float prints as the shortest decimal that reads back the same, so a
    # value with two decimals below 10^8 prints exactly as it is stored.
    return float(amount)


def to_text(amount: Decimal | str | float, currency: str) -> str:
    """The amount alone, with its currency's decimals: 109.90, 2400 (CSV cells)."""
    return f'{Decimal(str(amount)):.{places(currency)}f}'


def display(amount: Decimal | str | float, currency: str) -> str:
    """For people (emails): the amount with its currency, e.g. 109.90 USD, 2400 JPY.
    Our own formatting, not a locale library's (Babel): one unambiguous form
    for every reader, and nothing to load at cold start."""
    return f'{to_text(amount, currency)} {currency}'
