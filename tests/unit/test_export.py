"""The CSV export's text (orders/export.py): RFC 4180 quoting, CRLF line ends,
cells a spreadsheet never runs, and the date bounds. No database."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from chalicelib.orders import export

HOSTILE = [
    'a,b',
    'say "hi"',
    'two\nlines',
    'cr\rlf\r\n',
    "=cmd|' /C calc'!A0",
    '+1+1',
    '-2+3',
    '@SUM(A1:A9)',
    '\t=1',
    '\r=1',
    'plain',
]


def rows_of(text):
    return list(csv.reader(io.StringIO(text, newline='')))


def order(order_id=7, status='paid', total='109.97', currency='USD', shipping='0', tax='0'):
    return SimpleNamespace(
        order_id=order_id,
        status=status,
        order_total=Decimal(total),
        currency=currency,
        created_at=datetime(2026, 11, 25, 10, 0, 0, 123456),
        shipping_total=Decimal(shipping),
        tax_total=Decimal(tax),
    )


def item(product_id=101, quantity=2, price='29.99', sku='MUG-BLUE', discount='0', tax='0'):
    return SimpleNamespace(
        product_id=product_id,
        quantity=quantity,
        price_at_order=Decimal(price),
        sku=sku,
        discount=Decimal(discount),
        tax=Decimal(tax),
    )


def test_an_export_starts_with_the_header_row():
    assert export.CsvTable().text() == (
        'order_id,created_at,status,order_total,currency,product_id,sku,quantity,price_at_order,'
        'line_discount,line_tax,shipping_total,tax_total\r\n'
    )


def test_each_item_is_a_row_of_its_order_with_exact_money_and_crlf_line_ends():
    table = export.CsvTable()

    table.add_order(order(), [item(), item(102, 1, '49.99', sku=None)])

    assert table.text().split('\r\n')[1:] == [
        '7,2026-11-25T10:00:00.123456Z,paid,109.97,USD,101,MUG-BLUE,2,29.99,0.00,0.00,0.00,0.00',
        '7,2026-11-25T10:00:00.123456Z,paid,109.97,USD,102,,1,49.99,0.00,0.00,0.00,0.00',
        '',
    ]


def test_amounts_have_the_decimals_of_their_currency():
    table = export.CsvTable()

    table.add_order(order(total='0.5'), [item(price='0'), item(price='0.1')])
    table.add_order(order(8, total='2400', currency='JPY'), [item(price='1200')])

    rows = rows_of(table.text())[1:]
    assert [(row[3], row[4], row[8]) for row in rows] == [
        ('0.50', 'USD', '0.00'),
        ('0.50', 'USD', '0.10'),
        ('2400', 'JPY', '1200'),
    ]


def test_a_sku_a_spreadsheet_would_run_is_written_as_text():
    table = export.CsvTable()

    table.add_order(order(), [item(sku='=HYPERLINK("x")')])

    assert rows_of(table.text())[1][6] == '\'=HYPERLINK("x")'


@pytest.mark.parametrize(
    'cell', ["=cmd|' /C calc'!A0", '+1+1', '-2+3', '@SUM(A1:A9)', '\t=1', '\r=1']
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe(cell):
    assert export.safe_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    ('cell', 'written'),
    [
        ('X;=1+2', "X;'=1+2"),
        ('a,@SUM(A1)', "a,'@SUM(A1)"),
        ('=1;+2,-3', "'=1;'+2,'-3"),
        ('a;\t=1', "a;'\t=1"),
        ('a,\r=1', "a,'\r=1"),
    ],
)
def test_a_formula_after_a_separator_gets_an_apostrophe_too(cell, written):
    assert export.safe_cell(cell) == written


@pytest.mark.parametrize(
    'cell', ['plain', ' =1', "'=1", 'a=b', '1-2', 7, '2026-11-25T10:00Z', 'a; =1', 'a;b=1']
)
def test_any_other_cell_is_left_as_it_is(cell):
    assert export.safe_cell(cell) == str(cell)


def test_commas_quotes_newlines_and_formulas_read_back_as_written_behind_the_guard():
    table = export.CsvTable()

    table.write_row(HOSTILE)

    text = table.text()
    assert '"a,b"' in text and '"say ""hi"""' in text and '"two\nlines"' in text
    [header, row] = rows_of(text)
    assert header == list(export.HEADER)
    assert row == [
        'a,b',
        'say "hi"',
        'two\nlines',
        'cr\rlf\r\n',
        "'=cmd|' /C calc'!A0",
        "'+1+1",
        "'-2+3",
        "'@SUM(A1:A9)",
        "'\t=1",
        "'\r=1",
        'plain',
    ]


def test_size_counts_every_character_written():
    table = export.CsvTable()
    table.add_order(order(), [item()])

    assert table.size == len(table.text())


def test_bounds_run_from_midnight_of_from_to_midnight_after_to():
    start, end = export.bounds(date(2026, 2, 1), date(2026, 2, 28))

    assert (start, end) == (datetime(2026, 2, 1), datetime(2026, 3, 1))


def test_bounds_of_a_missing_date_are_none():
    assert export.bounds(None, None) == (None, None)
    assert export.bounds(date(2026, 2, 1), None) == (datetime(2026, 2, 1), None)


def test_to_on_the_last_representable_day_has_no_upper_bound():
    assert export.bounds(None, date.max) == (None, None)
