"""Column types that mean the same on SQLite and MariaDB."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import peewee

from chalicelib.core import money
from chalicelib.platform.config import get_settings

# SQLite has no DECIMAL (a NUMERIC column hands back floats), so money is TEXT
# there; MariaDB keeps microseconds only when DATETIME is declared with them.
# MariaDB's collations ignore trailing spaces (and the default one case): an
# exact key (an Idempotency-Key) is stored as bytes there.
# A SKU is compared exactly too (its 64 characters, UTF-8, fit 256 bytes).
SQLITE_FIELD_TYPES = {
    'MONEY': 'TEXT',
    'DATETIME6': 'DATETIME',
    'EXACT_KEY': 'VARCHAR(255)',
    'EXACT_SKU': 'VARCHAR(64)',
    'RATE': 'TEXT',
}
MYSQL_FIELD_TYPES = {
    'MONEY': 'DECIMAL(10,2)',
    'DATETIME6': 'DATETIME(6)',
    'EXACT_KEY': 'VARBINARY(255)',
    'EXACT_SKU': 'VARBINARY(256)',
    'RATE': 'DECIMAL(5,4)',
}


class MoneyField(peewee.Field):
    """Exact money: DECIMAL(10,2) on MariaDB, TEXT on SQLite, Decimal in Python."""

    field_type = 'MONEY'

    def db_value(self, value: Decimal | None) -> str | None:
        return None if value is None else money.to_column(value)

    def python_value(self, value: Any) -> Decimal | None:
        return None if value is None else money.from_column(value)


class RateField(peewee.Field):
    """A tax rate, 0 <= r < 1 with at most four decimals (0.0725): exact like money."""

    field_type = 'RATE'

    def db_value(self, value: Decimal | None) -> str | None:
        return None if value is None else str(Decimal(value).quantize(RATE_PLACES))

    def python_value(self, value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(RATE_PLACES)


RATE_PLACES = Decimal('0.0001')


class ExactKeyField(peewee.CharField):
    """Up to 255 ASCII characters compared byte for byte."""

    field_type = 'EXACT_KEY'

    def get_modifiers(self) -> None:
        return None

    def python_value(self, value: str | bytes | None) -> str | None:
        return value.decode('ascii') if isinstance(value, bytes) else value


class ExactSkuField(peewee.CharField):
    """A product's SKU, unique byte for byte: MUG-BLUE and mug-blue are two."""

    field_type = 'EXACT_SKU'

    def get_modifiers(self) -> None:
        return None

    def python_value(self, value: str | bytes | None) -> str | None:
        return value.decode('utf-8') if isinstance(value, bytes) else value


class PreciseDateTimeField(peewee.DateTimeField):
    field_type = 'DATETIME6'


class IdField(peewee.BigAutoField):
    """An id never handed out twice: SQLite reuses the id of a deleted newest
    row unless the key is declared AUTOINCREMENT."""

    def ddl(self, ctx: peewee.Context) -> peewee.NodeList:
        node = super().ddl(ctx)
        if isinstance(self.model._meta.database.obj, peewee.SqliteDatabase):
            return peewee.NodeList((node, peewee.SQL('AUTOINCREMENT')))
        return node


class OrderCurrencyField(peewee.CharField):
    """An order's ISO 4217 code. The column defaults to DEFAULT_CURRENCY as it
    was when the column was made: the orders placed before currencies existed
    are in it, and so are those a copy of the previous release (which knows
    no currency) writes while a deploy rolls out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=3, **kwargs)

    def ddl(self, ctx: peewee.Context) -> peewee.NodeList:
        return peewee.NodeList((super().ddl(ctx), peewee.SQL(column_default_currency())))


def column_default_currency() -> str:
    # A code of money.CURRENCIES (config checks it): safe to write as a literal.
    return f"DEFAULT '{get_settings().default_currency}'"
