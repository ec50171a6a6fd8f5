"""Currencies and minor units (chalicelib/core/money.py)."""

from decimal import Decimal

import pytest

from chalicelib.core import money


@pytest.mark.parametrize(
    'amount, currency, units',
    [
        ('109.97', 'USD', 10997),
        ('0.01', 'EUR', 1),
        ('2400', 'JPY', 2400),
        ('0', 'KRW', 0),
        ('99999999.99', 'USD', 9999999999),
    ],
)
def test_amounts_convert_to_minor_units_and_back(amount, currency, units):
    assert money.to_minor_units(Decimal(amount), currency) == units
    assert money.from_minor_units(units, currency) == Decimal(amount)


def test_an_amount_with_more_decimals_than_its_currency_is_refused():
    with pytest.raises(money.MoneyError) as refused:
        money.to_minor_units(Decimal('29.99'), 'JPY')
    assert refused.value.reason == 'places'
    assert not money.fits_currency(Decimal('0.5'), 'JPY')
    assert money.fits_currency(Decimal('2400.00'), 'JPY')


def test_only_known_iso_codes_are_currencies():
    assert money.is_currency('USD') and money.is_currency('JPY')
    for code in ('usd', 'BHD', 'XXX', '', None, 840):
        assert not money.is_currency(code)


def test_people_read_each_amount_with_its_currency_and_its_decimals():
    assert money.display(Decimal('109.9'), 'USD') == '109.90 USD'
    assert money.display(Decimal('2400.00'), 'JPY') == '2400 JPY'
    assert money.to_text(Decimal('2400.00'), 'JPY') == '2400'
