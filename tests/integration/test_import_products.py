"""make import-products FILE=... and make run's demo catalog
(chalicelib/wiring/cli.py, catalog/imports.py), on SQLite and MariaDB: all rows or
none, every bad row reported with its line number."""

import json
from decimal import Decimal

import pytest

from chalicelib.platform.config import get_settings
from chalicelib.storage.models import Discount, Product, ShippingMethod, TaxRate
from chalicelib.wiring import cli, runtime

HEADER = 'product_id,sku,name,unit_price,currency,active,on_hand\n'


def csv_file(tmp_path, text, name='products.csv'):
    path = tmp_path / name
    path.write_text(HEADER + text, encoding='utf-8')
    return str(path)


def catalog():
    return {
        p.product_id: (
            p.sku,
            p.name,
            str(p.unit_price),
            p.currency,
            bool(p.active),
            p.on_hand,
            p.version,
        )
        for p in Product.select()
    }


def run(*argv):
    runtime.reset()
    return cli.main(list(argv))


def test_a_file_is_imported_whole_then_updated_in_place(database, tmp_path, capsys):
    path = csv_file(
        tmp_path,
        '101,MUG-BLUE,Blue mug,29.99,USD,true,40\n'
        '102,,"Black T-shirt, M",49.99,USD,,\n'
        '104,FAN-JP,Paper fan,2400,JPY,false,0\n',
    )

    assert run('import-products', path) == 0
    assert run('import-products', path) == 0

    assert 'imported 3 products' in capsys.readouterr().out
    assert catalog() == {
        101: ('MUG-BLUE', 'Blue mug', '29.99', 'USD', True, 40, 2),
        102: (None, 'Black T-shirt, M', '49.99', 'USD', True, None, 2),
        104: ('FAN-JP', 'Paper fan', '2400.00', 'JPY', False, 0, 2),
    }


def test_every_bad_row_is_reported_by_line_and_nothing_is_written(database, tmp_path, capsys):
    path = csv_file(
        tmp_path,
        '101,MUG-BLUE,Blue mug,29.99,USD,true,40\n'
        'x,A,Lamp,1.00,USD,true,\n'
        '103,B,Fan,24.50,JPY,true,\n'
        '104,C,,1.00,USD,yes,-1\n'
        '105,MUG-BLUE,Mug again,1.00,USD,true,\n'
        '101,D,Twice,1.00,USD,true,\n'
        '106,E,Short row\n',
    )

    assert run('import-products', path) == 1

    errors = capsys.readouterr().err
    assert 'nothing imported' in errors
    assert 'line 3: product_id' in errors
    assert 'line 4: unit_price: Must have at most 0 decimal places in JPY.' in errors
    assert 'line 5: active' in errors and 'line 5: name' in errors and 'line 5: stock' in errors
    assert "line 6: sku: 'MUG-BLUE' is also on line 2" in errors
    assert 'line 7: product_id: 101 is also on line 2' in errors
    assert 'line 8: 3 cells, not 7' in errors
    assert 'line 2:' not in errors
    assert catalog() == {}


def test_a_sku_another_product_holds_refuses_the_whole_file(database, tmp_path, capsys):
    run('import-products', csv_file(tmp_path, '7,MUG-BLUE,Blue mug,29.99,USD,true,\n', 'a.csv'))

    path = csv_file(
        tmp_path,
        '101,NEW,New mug,1.00,USD,true,\n102,MUG-BLUE,Another mug,1.00,USD,true,\n',
        'b.csv',
    )
    assert run('import-products', path) == 1

    assert 'line 3: sku: Already the SKU of product 7.' in capsys.readouterr().err
    assert set(catalog()) == {7}


def tax_classes():
    return {p.product_id: p.tax_class for p in Product.select()}


def test_a_file_without_tax_classes_keeps_the_products_own(database, tmp_path, capsys):
    with_classes = tmp_path / 'classes.csv'
    with_classes.write_text(
        HEADER.rstrip('\n') + ',tax_class\n'
        '101,MUG-BLUE,Blue mug,29.99,USD,true,40,reduced\n'
        '102,,"Black T-shirt, M",49.99,USD,,,\n',
        encoding='utf-8',
    )
    without = csv_file(
        tmp_path,
        '101,MUG-BLUE,Blue mug,31.99,USD,true,40\n'
        '102,,"Black T-shirt, M",49.99,USD,,\n'
        '103,,Notebook,4.99,USD,,\n',
        name='prices.csv',
    )

    assert run('import-products', str(with_classes)) == 0
    assert tax_classes() == {101: 'reduced', 102: 'standard'}
    assert run('import-products', without) == 0

    assert tax_classes() == {101: 'reduced', 102: 'standard', 103: 'standard'}
    assert catalog()[101][2] == '31.99'  # the rest of the row was written


def test_a_tax_class_column_sets_the_class_and_an_empty_cell_keeps_it(database, tmp_path):
    header = HEADER.rstrip('\n') + ',tax_class\n'
    first = tmp_path / 'first.csv'
    first.write_text(header + '101,,Mug,29.99,USD,,,books\n', encoding='utf-8')
    second = tmp_path / 'second.csv'
    second.write_text(
        header + '101,,Mug,29.99,USD,,,\n102,,Shirt,49.99,USD,,,zero_rated\n', encoding='utf-8'
    )

    assert run('import-products', str(first)) == 0
    assert run('import-products', str(second)) == 0

    assert tax_classes() == {101: 'books', 102: 'zero_rated'}


def test_a_bad_tax_class_is_reported_by_line_and_nothing_is_written(database, tmp_path, capsys):
    path = tmp_path / 'bad.csv'
    path.write_text(
        HEADER.rstrip('\n') + ',tax_class\n101,,Mug,29.99,USD,,,Reduced Rate\n',
        encoding='utf-8',
    )

    assert run('import-products', str(path)) == 1

    assert 'line 2: tax_class:' in capsys.readouterr().err
    assert tax_classes() == {}


def test_a_wrong_header_is_refused(database, tmp_path, capsys):
    path = tmp_path / 'p.csv'
    path.write_text('id,name\n1,Mug\n')

    assert run('import-products', str(path)) == 1
    assert 'line 1: the header must be' in capsys.readouterr().err


def test_a_file_excel_saved_as_csv_utf_8_is_read_despite_its_byte_order_mark(database, tmp_path):
    path = tmp_path / 'excel.csv'
    path.write_text(HEADER + '101,MUG-BLUE,Blue mug,29.99,USD,true,40\n', encoding='utf-8-sig')

    assert run('import-products', str(path)) == 0
    assert catalog()[101][:2] == ('MUG-BLUE', 'Blue mug')


@pytest.mark.parametrize(
    ('content', 'says'),
    [
        (
            (HEADER + '101,MUG,Blue mug,1.00,USD,true,1\n102,FAN,Caf\xe9 fan,1.00,USD,,\n').encode(
                'latin-1'
            ),
            'line 3: not UTF-8 text (byte 0xe9); save the file as UTF-8',
        ),
        (
            (HEADER + '101,MUG,' + 'x' * (128 * 1024 + 1) + ',1.00,USD,true,1\n').encode(),
            'line 2: a cell longer than 131,072 characters',
        ),
        (None, 'cannot be read: No such file or directory'),
    ],
    ids=['latin-1', '128 KiB cell', 'missing file'],
)
def test_a_file_that_cannot_be_read_says_why_in_one_line_and_imports_nothing(
    database, tmp_path, capsys, content, says
):
    path = tmp_path / 'products.csv'
    if content is not None:
        path.write_bytes(content)

    assert run('import-products', str(path)) == 1

    err = capsys.readouterr().err
    assert f'{path}: nothing imported, 1 problem(s):' in err
    assert says in err
    assert 'Traceback' not in err
    assert catalog() == {}


def test_the_demo_catalog_fills_an_empty_local_catalog_once(database, monkeypatch, capsys):
    monkeypatch.setenv('ENVIRONMENT', 'local')
    get_settings.cache_clear()

    assert run('demo-catalog') == 0
    Product.update(name='Renamed').where(Product.product_id == 101).execute()
    assert run('demo-catalog') == 0

    products = catalog()
    assert products[101][:4] == ('MUG-BLUE', 'Renamed', '29.99', 'USD')
    assert products[102][2] == '49.99'
    assert any(currency == 'JPY' for _, _, _, currency, _, _, _ in products.values())
    assert any(on_hand is not None and on_hand <= 5 for *_, on_hand, _ in products.values())
    assert 'demo checkout: shipping methods standard, jp-post' in capsys.readouterr().out


def test_the_demo_catalog_brings_what_a_checkout_needs(database, monkeypatch):
    monkeypatch.setenv('ENVIRONMENT', 'local')
    get_settings.cache_clear()

    assert run('demo-catalog') == 0
    ShippingMethod.update(price=Decimal('5.99')).where(ShippingMethod.code == 'standard').execute()
    assert run('demo-catalog') == 0  # a catalog already there keeps all of it

    methods = {m.code: (m.currency, m.price, m.active) for m in ShippingMethod.select()}
    assert methods == {
        'standard': ('USD', Decimal('5.99'), True),
        'jp-post': ('JPY', Decimal('500.00'), True),
    }
    illinois = TaxRate.get(TaxRate.zone == 'US-IL')
    assert (json.loads(illinois.rates), bool(illinois.shipping)) == ({'standard': '0.0625'}, True)
    code = Discount.get(Discount.code == 'WELCOME10')
    assert (code.type, code.value, bool(code.active)) == ('percent', Decimal('10.00'), True)


def test_the_demo_catalog_never_loads_outside_the_local_stage(database, monkeypatch):
    monkeypatch.setenv('ENVIRONMENT', 'prod')
    get_settings.cache_clear()

    assert run('demo-catalog') == 2
    assert catalog() == {}
