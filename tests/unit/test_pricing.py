"""Pricing an order's lines and choosing its currency (catalog/pricing.py). No database."""

from decimal import Decimal

import pytest

from chalicelib.catalog.pricing import CatalogEntry, Request, price_order
from chalicelib.core.errors import InvalidInput, PriceChanged

MUG = CatalogEntry(101, 'MUG-BLUE', 'Blue mug', Decimal('29.99'), 'USD', True, True, 3)
TEE = CatalogEntry(102, None, 'Black T-shirt', Decimal('49.99'), 'USD', True, False, 1)
FAN = CatalogEntry(103, 'FAN-JP', 'Paper fan', Decimal('2400'), 'JPY', True, False, 1)
OLD = CatalogEntry(104, 'OLD', 'Retired lamp', Decimal('10.00'), 'USD', False, False, 2)
CATALOG = {entry.product_id: entry for entry in (MUG, TEE, FAN, OLD)}


def customer(*requests, body_currency=None, default='USD'):
    return price_order(
        requests, CATALOG, staff=False, body_currency=body_currency, default_currency=default
    )


def staff(*requests, body_currency=None, default='USD'):
    return price_order(
        requests, CATALOG, staff=True, body_currency=body_currency, default_currency=default
    )


def refusal(error, call, *requests, **kwargs):
    with pytest.raises(error) as caught:
        call(*requests, **kwargs)
    return caught.value.errors


def test_a_customers_lines_are_priced_from_the_catalog_with_sku_and_name():
    priced = customer(Request(101, 2), Request(102, 1))

    assert priced.currency == 'USD'
    assert priced.total == Decimal('109.97')
    assert [(line.price_at_order, line.sku, line.name, line.reserves) for line in priced.lines] == [
        (Decimal('29.99'), 'MUG-BLUE', 'Blue mug', True),
        (Decimal('49.99'), None, 'Black T-shirt', False),
    ]


def test_a_customer_may_send_the_current_price():
    assert customer(Request(101, 1, Decimal('29.99'))).total == Decimal('29.99')


def test_a_customers_old_price_is_a_conflict_naming_the_current_one_per_item():
    errors = refusal(
        PriceChanged,
        customer,
        Request(101, 1, Decimal('0.01')),
        Request(102, 1),
        Request(102, 1, Decimal('0')),
    )

    assert errors == {
        'items': {
            0: {'price_at_order': ['The current price is 29.99 USD.']},
            2: {'price_at_order': ['The current price is 49.99 USD.']},
        }
    }


@pytest.mark.parametrize('product_id', [999, 104])
def test_an_unknown_or_retired_product_is_refused_for_a_customer_by_item(product_id):
    errors = refusal(InvalidInput, customer, Request(101, 1), Request(product_id, 1))

    assert errors == {'items': {1: {'product_id': ['Not a product on sale.']}}}


def test_a_refusal_by_item_comes_before_a_price_conflict():
    with pytest.raises(InvalidInput):
        customer(Request(101, 1, Decimal('1.00')), Request(999, 1))


def test_staff_prices_are_kept_as_sent_for_any_product():
    priced = staff(
        Request(101, 1, Decimal('1.00')),
        Request(999, 2, Decimal('0.50')),
        Request(104, 1, Decimal('3.00')),
    )

    assert [(line.price_at_order, line.sku, line.reserves) for line in priced.lines] == [
        (Decimal('1.00'), 'MUG-BLUE', True),
        (Decimal('0.50'), None, False),
        (Decimal('3.00'), 'OLD', False),
    ]
    assert priced.total == Decimal('5.00')


def test_a_staff_line_without_a_price_is_priced_like_a_customers():
    assert staff(Request(101, 1)).lines[0].price_at_order == Decimal('29.99')
    with pytest.raises(InvalidInput):
        staff(Request(999, 1))


def test_the_currency_is_the_products_else_the_bodys_else_the_default():
    assert customer(Request(103, 1)).currency == 'JPY'
    assert staff(Request(999, 1, Decimal('5')), body_currency='EUR').currency == 'EUR'
    assert staff(Request(999, 1, Decimal('5')), default='GBP').currency == 'GBP'


def test_catalog_lines_in_two_currencies_are_refused_by_item():
    errors = refusal(InvalidInput, customer, Request(101, 1), Request(103, 1))

    assert list(errors['items']) == [1]
    assert 'one currency per order' in errors['items'][1]['product_id'][0]


def test_a_body_currency_other_than_the_products_is_refused():
    errors = refusal(InvalidInput, staff, Request(101, 1), body_currency='EUR')

    assert errors == {'currency': ['The products of this order are priced in USD.']}


def test_a_price_with_more_decimals_than_its_currency_is_refused():
    errors = refusal(InvalidInput, staff, Request(999, 1, Decimal('2400.50')), body_currency='JPY')

    assert errors == {
        'items': {0: {'price_at_order': ['Must have at most 0 decimal places in JPY.']}}
    }


def test_a_jpy_order_has_a_whole_total():
    priced = customer(Request(103, 3))

    assert (priced.total, priced.currency) == (Decimal('7200'), 'JPY')


@pytest.mark.parametrize(
    'requests',
    [
        [Request(999, 1, Decimal('99999999.99')), Request(998, 1, Decimal('0.01'))],
        [Request(999, 2, Decimal('50000000.00'))],
    ],
)
def test_an_order_total_over_the_maximum_is_refused_on_items(requests):
    errors = refusal(InvalidInput, staff, *requests)

    assert errors == {'items': ['The order total must be less than or equal to 99999999.99.']}
