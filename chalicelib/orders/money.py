"""Money: exact from the request body to the column and back.

Amounts are `Decimal` with two places everywhere in the service. A request
value is checked, never rounded; MariaDB stores DECIMAL(10,2) and SQLite TEXT
(a NUMERIC column would hand back floats)."""
from decimal import Decimal

CENT = Decimal('0.01')
ZERO = Decimal('0.00')
MAX_MONEY = Decimal('99999999.99')  # what DECIMAL(10,2) holds


class MoneyError(ValueError):
    """Why an amount is refused; `reason` is one of 'invalid', 'range', 'places'."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def parse(value):
    """A JSON number (int or Decimal, never a float or bool) as an amount:
    >= 0, <= MAX_MONEY, at most two decimals. -0 becomes 0."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise MoneyError('invalid')
    value = Decimal(value)
    if not value.is_finite():
        raise MoneyError('invalid')
    if not 0 <= value <= MAX_MONEY:
        raise MoneyError('range')
    if value != value.quantize(CENT):
        raise MoneyError('places')
    # -0 is 0: never store or answer a negative zero.
    return value.quantize(CENT) if value else ZERO


def order_total(items):
    """Sum of quantity x price_at_order, exact."""
    return sum((Decimal(item['quantity']) * item['price_at_order'] for item in items), ZERO)


def to_column(amount):
    return str(Decimal(amount).quantize(CENT))


def from_column(value):
    return Decimal(str(value)).quantize(CENT)


def to_json(amount):
    # A float prints as the shortest decimal that reads back the same, so a
    # value with two decimals below 10^8 prints exactly as it is stored.
    return float(amount)


def to_text(amount):
    """For people (emails): always two decimals, e.g. 109.90."""
    return f'{Decimal(str(amount)):.2f}'
