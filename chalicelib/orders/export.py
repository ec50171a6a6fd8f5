"""One user's orders as CSV for a spreadsheet: RFC 4180 (the csv module's
quoting, CRLF line ends), a header row, one row per item. Pure: rows in,
text out; the service pages through the database and feeds it.

A cell a spreadsheet would read as a formula (it starts with =, +, -, @, a
tab or a carriage return) gets an apostrophe before that character, and so
does each such character right after a `;` or `,`: a spreadsheet that splits
on semicolons (the default where the decimal mark is a comma) opens
`X;=1+2` as two cells, the second a formula. Opening an export never runs
anything, whatever the data holds and whichever separator is used."""

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol

from chalicelib.core import money
from chalicelib.core.clock import utc_iso

HEADER = (
    'order_id',
    'created_at',
    'status',
    'order_total',
    'currency',
    'product_id',
    'sku',
    'quantity',
    'price_at_order',
    'line_discount',
    'line_tax',
    'shipping_total',
    'tax_total',
)
MAX_ORDERS = 10_000
CHUNK_ORDERS = 500  # orders read per query; their items come with them
# Lambda answers at most 6 MB, the body JSON-escaped inside (each CRLF grows
# by two): well below that, a longer export is refused like a larger one.
MAX_CHARS = 5_000_000
# A character that starts a formula, at the start of a cell or of what a
# spreadsheet splitting on `;` or `,` takes for one.
_FORMULA_START = re.compile(r'(^|[;,])([=+\-@\t\r])')


class ExportOrder(Protocol):
    order_id: int
    created_at: datetime
    status: str
    order_total: Decimal
    currency: str
    shipping_total: Decimal
    tax_total: Decimal


class ExportItem(Protocol):
    product_id: int
    sku: str | None
    quantity: int
    price_at_order: Decimal
    discount: Decimal
    tax: Decimal


def bounds(from_date: date | None, to_date: date | None) -> tuple[datetime | None, datetime | None]:
    """(start, end) in naive UTC for created_at: start inclusive, end
    exclusive, each None when its date is; `to` is the whole day."""
    start = datetime.combine(from_date, time.min) if from_date else None
    end = None
    if to_date is not None and to_date < to_date.max:
        end = datetime.combine(to_date + timedelta(days=1), time.min)
    return start, end


def safe_cell(value: object) -> str:
    return _FORMULA_START.sub(r"\1'\2", str(value))


class CsvTable:
    """The export's text, built a row at a time."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator='\r\n')
        self.size = 0  # characters so far (ASCII: bytes too)
        self.write_row(HEADER)

    def write_row(self, cells: Iterable[object]) -> None:
        self.size += self._writer.writerow([safe_cell(cell) for cell in cells])

    def add_order(self, order: ExportOrder, items: Iterable[ExportItem]) -> None:
        currency = order.currency
        created_at = utc_iso(order.created_at)
        total = money.to_text(order.order_total, currency)
        shipping = money.to_text(order.shipping_total, currency)
        tax = money.to_text(order.tax_total, currency)
        for item in items:
            self.write_row(
                (
                    order.order_id,
                    created_at,
                    order.status,
                    total,
                    currency,
                    item.product_id,
                    '' if item.sku is None else item.sku,
                    item.quantity,
                    money.to_text(item.price_at_order, currency),
                    money.to_text(item.discount, currency),
                    money.to_text(item.tax, currency),
                    shipping,
                    tax,
                )
            )

    def text(self) -> str:
        return self._buffer.getvalue()
