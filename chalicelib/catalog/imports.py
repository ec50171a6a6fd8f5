"""A catalog from CSV (make import-products FILE=...): the header
`product_id,sku,name,unit_price,currency,active,on_hand`, optionally ending
in `tax_class`, one product a row, held to the rules of PUT /products
(`on_hand` empty: not tracked; `active` true or false, empty: true). Without
the tax_class column, or with its cell empty, a product keeps the tax class
it has (a new one is `standard`): a file made before tax classes existed
never resets them. Every bad row is reported with its line number and why;
then nothing is written."""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError

from chalicelib.catalog.commands import ProductWrite
from chalicelib.catalog.schemas import ProductSchema
from chalicelib.core.ids import MAX_ID

HEADER = ['product_id', 'sku', 'name', 'unit_price', 'currency', 'active', 'on_hand']
# The optional last column.
TAX_CLASS = 'tax_class'
_DIGITS = re.compile(r'[0-9]{1,19}')
_INTEGER = re.compile(r'-?[0-9]{1,19}')
_schema = ProductSchema()


class BadRows(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__('\n'.join(problems))
        self.problems = problems


def read_rows(lines: Iterable[str]) -> list[tuple[int, int, ProductWrite]]:
    """[(line number, product_id, data as PUT /products loads it)], or
    BadRows naming every bad line."""
    reader = csv.reader(lines)
    problems: list[str] = []
    header = next(_records(reader), None)
    if header not in (HEADER, [*HEADER, TAX_CLASS]):
        raise BadRows(
            [f'line 1: the header must be {",".join(HEADER)}, optionally followed by ,{TAX_CLASS}']
        )
    rows: list[tuple[int, int, ProductWrite]] = []
    seen_ids: dict[int, int] = {}
    seen_skus: dict[str, int] = {}
    for cells in _records(reader):
        line = reader.line_num
        if len(cells) != len(header):
            problems.append(f'line {line}: {len(cells)} cells, not {len(header)}')
            continue
        cell = dict(zip(header, cells, strict=True))
        why = []
        product_id = int(cell['product_id']) if _DIGITS.fullmatch(cell['product_id']) else 0
        if not 1 <= product_id <= MAX_ID:
            why.append('product_id: must be a whole number from 1 to 2^63-1')
        elif product_id in seen_ids:
            why.append(f'product_id: {product_id} is also on line {seen_ids[product_id]}')
        try:
            data: ProductWrite | None = _schema.load(_body(cell))
            if data is not None and not cell.get(TAX_CLASS):
                data = dataclasses.replace(data, tax_class=None)  # the product keeps its own
        except ValidationError as exc:
            why += [
                f'{field}: {" ".join(_flat(messages))}'
                for field, messages in sorted(exc.normalized_messages().items())
            ]
            data = None
        if data is not None and data.sku is not None and data.sku in seen_skus:
            why.append(f'sku: {data.sku!r} is also on line {seen_skus[data.sku]}')
        if why:
            problems += [f'line {line}: {reason}' for reason in why]
            continue
        assert data is not None
        seen_ids[product_id] = line
        if data.sku is not None:
            seen_skus[data.sku] = line
        rows.append((line, product_id, data))
    if problems:
        raise BadRows(problems)
    return rows


def _records(reader: Any) -> Iterator[list[str]]:
    """The reader's records; a line the csv module cannot read (a cell
    longer than its field_size_limit, a NUL byte) ends the file as BadRows
    naming the line, not as a traceback."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadRows([f'line {reader.line_num}: {_csv_problem(exc)}']) from exc
        yield cells


def _csv_problem(exc: csv.Error) -> str:
    if 'field larger than field limit' in str(exc):
        return f'a cell longer than {csv.field_size_limit():,} characters'
    return f'not readable as CSV ({exc})'


def _body(cell: dict[str, str]) -> dict[str, Any]:
    """The row as a PUT body: the cells' text read as JSON values would be."""
    body: dict[str, Any] = {
        'name': cell['name'],
        'currency': cell['currency'],
        'sku': cell['sku'] or None,
    }
    try:
        body['unit_price'] = Decimal(cell['unit_price'])
    except InvalidOperation:
        body['unit_price'] = cell['unit_price']  # refused by the schema as not a number
    if cell['active'] != '':
        body['active'] = {'true': True, 'false': False}.get(cell['active'], cell['active'])
    if cell.get(TAX_CLASS):
        body['tax_class'] = cell[TAX_CLASS]
    if cell['on_hand'] != '':
        on_hand = cell['on_hand']
        body['stock'] = {'on_hand': int(on_hand) if _INTEGER.fullmatch(on_hand) else on_hand}
    return body


def _flat(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [message for value in messages.values() for message in _flat(value)]
    return [str(message) for message in messages]
