"""The totals calculator (chalicelib/orders/totals.py): the contract's worked
example, the allocation and rounding rules one by one, and Hypothesis
properties: for any lines, rates, codes and refund steps the totals add up
exactly, the shares of a fixed discount sum exactly, and a line refunded in
any steps returns exactly what was paid for it and never more."""

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import money
from chalicelib.orders import totals
from chalicelib.orders.totals import Discount, Line, Shipping, TaxZone

D = Decimal
ILLINOIS = TaxZone(rates={'standard': D('0.0625')}, shipping=True)
MUGS = [Line(2, D('29.99')), Line(1, D('49.99'))]


def test_the_contracts_example_adds_up_to_110_45():
    result = totals.compute(
        MUGS,
        'USD',
        discount=Discount('percent', D(10)),
        shipping=Shipping(D('4.99')),
        zone=ILLINOIS,
    )

    assert [(line.discount, line.tax) for line in result.lines] == [
        (D('6.00'), D('3.37')),
        (D('5.00'), D('2.81')),
    ]
    assert result.shipping == totals.ShippingTotals(
        amount=D('4.99'), waived=D('0.00'), tax=D('0.31'), paid=D('5.30')
    )
    assert (
        result.subtotal,
        result.discount_total,
        result.shipping_total,
        result.tax_total,
        result.order_total,
    ) == (D('109.97'), D('11.00'), D('4.99'), D('6.49'), D('110.45'))


def test_with_nothing_set_the_total_is_the_subtotal_as_it_always_was():
    result = totals.compute([Line(2, D('29.99')), Line(1, D('49.99'))], 'USD')

    assert result.order_total == result.subtotal == D('109.97')
    assert result.discount_total == result.shipping_total == result.tax_total == 0
    assert [line.tax_rate for line in result.lines] == [0, 0]


def test_a_fixed_discount_is_shared_by_largest_remainder_ties_to_the_earlier_line():
    # 10.00 over three equal lines: 3.33 each and the last cent to the first.
    result = totals.compute(
        [Line(1, D('5.00')), Line(1, D('5.00')), Line(1, D('5.00'))],
        'USD',
        discount=Discount('fixed', D('10.00')),
    )

    assert [line.discount for line in result.lines] == [D('3.34'), D('3.33'), D('3.33')]


def test_a_fixed_discount_goes_to_the_largest_remainder_first():
    # 1.00 over 1.00 and 2.00: quotas 0.333.. and 0.666..: the cent left goes to the second.
    result = totals.compute(
        [Line(1, D('1.00')), Line(1, D('2.00'))], 'USD', discount=Discount('fixed', D('1.00'))
    )

    assert [line.discount for line in result.lines] == [D('0.33'), D('0.67')]


def test_a_fixed_discount_never_exceeds_the_eligible_subtotal_nor_touches_other_lines():
    result = totals.compute(
        [Line(1, D('3.00')), Line(1, D('40.00'), discountable=False)],
        'USD',
        discount=Discount('fixed', D('25.00')),
    )

    assert [line.discount for line in result.lines] == [D('3.00'), D('0.00')]
    assert result.order_total == D('40.00')


def test_free_shipping_waives_the_fee_and_leaves_the_lines_alone():
    result = totals.compute(
        MUGS,
        'USD',
        discount=Discount('free_shipping'),
        shipping=Shipping(D('4.99')),
        zone=ILLINOIS,
    )

    assert result.discount_total == 0
    assert (result.shipping.amount, result.shipping.waived, result.shipping.tax) == (
        D('4.99'),
        D('4.99'),
        D('0.00'),
    )
    assert result.shipping_total == 0


def test_shipping_is_free_at_or_over_its_threshold_after_discounts():
    at_threshold = totals.compute(
        [Line(1, D('55.00'))],
        'USD',
        discount=Discount('fixed', D('5.00')),
        shipping=Shipping(D('4.99'), free_over=D('50.00')),
    )
    under = totals.compute(
        [Line(1, D('55.00'))],
        'USD',
        discount=Discount('fixed', D('5.01')),
        shipping=Shipping(D('4.99'), free_over=D('50.00')),
    )

    assert at_threshold.shipping_total == 0
    assert under.shipping_total == D('4.99')


def test_a_zone_that_does_not_tax_shipping_leaves_it_untaxed():
    result = totals.compute(
        MUGS, 'USD', shipping=Shipping(D('4.99')), zone=TaxZone({'standard': D('0.2')})
    )

    assert result.shipping.tax == 0
    assert result.tax_total == sum(line.tax for line in result.lines)


def test_a_class_the_zone_does_not_list_is_taxed_at_zero():
    zone = TaxZone({'standard': D('0.2'), 'reduced': D('0.07')})
    result = totals.compute(
        [Line(1, D('10.00'), 'reduced'), Line(1, D('10.00'), 'books'), Line(1, D('10.00'))],
        'EUR',
        zone=zone,
    )

    assert [(line.tax_rate, line.tax) for line in result.lines] == [
        (D('0.07'), D('0.70')),
        (D('0'), D('0.00')),
        (D('0.2'), D('2.00')),
    ]


def test_prices_including_tax_take_the_tax_out_of_the_gross_per_line():
    # 20 % VAT in 12.00: 12.00 - round(12.00 / 1.2) = 2.00; the total is the gross.
    result = totals.compute(
        [Line(1, D('12.00')), Line(3, D('0.99'))],
        'EUR',
        shipping=Shipping(D('5.90')),
        zone=TaxZone({'standard': D('0.2')}, shipping=True),
        prices_include_tax=True,
    )

    assert [line.tax for line in result.lines] == [D('2.00'), D('0.49')]  # 2.97 - 2.48
    assert result.shipping.tax == D('0.98')
    assert result.order_total == D('20.87') == result.subtotal + result.shipping_total


def test_yen_round_to_whole_yen_half_up():
    result = totals.compute(
        [Line(1, D('250'))], 'JPY', discount=Discount('percent', D(15)), zone=ILLINOIS
    )

    # 250 x 15 % = 37.5 -> 38; (250 - 38) x 6.25 % = 13.25 -> 13
    assert (result.lines[0].discount, result.lines[0].tax) == (D('38'), D('13'))
    assert result.order_total == D('225')


@pytest.mark.parametrize(
    'steps, shares',
    [
        ([1, 1, 1], [D('3.33'), D('3.34'), D('3.33')]),
        ([2, 1], [D('6.67'), D('3.33')]),
        ([3], [D('10.00')]),
    ],
)
def test_a_line_refunded_in_steps_returns_exactly_what_was_paid(steps, shares):
    refunded, got = 0, []
    for units in steps:
        got.append(totals.refund_share(D('10.00'), 3, refunded, units, 'USD'))
        refunded += units

    assert got == shares


def test_a_refund_of_more_units_than_are_left_is_refused():
    with pytest.raises(ValueError):
        totals.refund_share(D('10.00'), 3, 2, 2, 'USD')


# -- properties -------------------------------------------------------------

CURRENCIES = st.sampled_from(sorted(money.CURRENCIES))


def amounts(currency, low=0, high=10**6):
    """Amounts in the currency's minor unit (cents, or whole yen)."""
    scale = money.places(currency)
    return st.integers(low, high * 10**scale).map(lambda units: D(units).scaleb(-scale))


RATES = st.integers(0, 9999).map(lambda r: D(r).scaleb(-4))
TAX_CLASSES = st.sampled_from(['standard', 'reduced', 'zero'])


@st.composite
def orders(draw):
    currency = draw(CURRENCIES)
    lines = draw(
        st.lists(
            st.builds(
                Line,
                quantity=st.integers(1, 10_000),
                unit_price=amounts(currency, high=10_000),
                tax_class=TAX_CLASSES,
                discountable=st.booleans(),
            ),
            min_size=1,
            max_size=20,
        )
    )
    discount = draw(
        st.one_of(
            st.none(),
            st.builds(
                Discount,
                type=st.just('percent'),
                value=st.integers(1, 10_000).map(lambda v: D(v).scaleb(-2)),
            ),
            st.builds(Discount, type=st.just('fixed'), value=amounts(currency, low=1)),
            st.just(Discount('free_shipping')),
        )
    )
    shipping = draw(
        st.one_of(
            st.none(),
            st.builds(
                Shipping,
                price=amounts(currency, high=1000),
                free_over=st.one_of(st.none(), amounts(currency)),
            ),
        )
    )
    zone = draw(
        st.one_of(
            st.none(),
            st.builds(
                TaxZone,
                rates=st.dictionaries(TAX_CLASSES, RATES),
                shipping=st.booleans(),
            ),
        )
    )
    return {
        'lines': lines,
        'currency': currency,
        'discount': discount,
        'shipping': shipping,
        'zone': zone,
        'prices_include_tax': draw(st.booleans()),
    }


def compute(order):
    return totals.compute(
        order['lines'],
        order['currency'],
        discount=order['discount'],
        shipping=order['shipping'],
        zone=order['zone'],
        prices_include_tax=order['prices_include_tax'],
    )


def every_amount(result):
    for line in result.lines:
        yield from (line.subtotal, line.discount, line.tax, line.paid)
    yield from (result.shipping.amount, result.shipping.waived, result.shipping.tax)
    yield from (result.shipping.paid, result.subtotal, result.discount_total)
    yield from (result.shipping_total, result.tax_total, result.order_total)


@settings(max_examples=300)
@given(orders())
def test_the_totals_add_up_exactly_in_whole_minor_units(order):
    result = compute(order)
    tax_added = 0 if order['prices_include_tax'] else result.tax_total

    assert result.subtotal == sum(line.subtotal for line in result.lines)
    assert result.discount_total == sum(line.discount for line in result.lines)
    assert result.tax_total == sum(line.tax for line in result.lines) + result.shipping.tax
    assert result.shipping_total == result.shipping.amount - result.shipping.waived
    assert result.order_total == (
        result.subtotal - result.discount_total + result.shipping_total + tax_added
    )
    # What the card is charged is what every line and the shipping were paid.
    assert result.order_total == sum(line.paid for line in result.lines) + result.shipping.paid
    for amount in every_amount(result):
        assert amount >= 0
        assert money.fits_currency(amount, order['currency'])
        assert amount == amount.quantize(money.CENT)
    for line, totals_of_line in zip(order['lines'], result.lines, strict=True):
        assert totals_of_line.discount <= totals_of_line.subtotal
        if not line.discountable:
            assert totals_of_line.discount == 0
        if order['prices_include_tax']:
            assert totals_of_line.tax <= totals_of_line.subtotal - totals_of_line.discount


@settings(max_examples=300)
@given(st.data())
def test_fixed_shares_sum_exactly_and_each_is_within_a_unit_of_its_quota(data):
    currency = data.draw(CURRENCIES)
    lines = data.draw(
        st.lists(
            st.builds(
                Line,
                quantity=st.integers(1, 100),
                unit_price=amounts(currency, high=1000),
                discountable=st.booleans(),
            ),
            min_size=1,
            max_size=20,
        )
    )
    value = data.draw(amounts(currency, low=1))
    unit = D(1).scaleb(-money.places(currency))

    result = totals.compute(lines, currency, discount=Discount('fixed', value))

    eligible = sum(
        (
            line.subtotal
            for line, asked in zip(result.lines, lines, strict=True)
            if asked.discountable
        ),
        money.ZERO,
    )
    shared = min(value, eligible)
    assert result.discount_total == shared
    for line, asked in zip(result.lines, lines, strict=True):
        if asked.discountable and eligible:
            quota = shared * line.subtotal / eligible
            assert abs(line.discount - quota) < unit


@st.composite
def refund_steps(draw):
    currency = draw(CURRENCIES)
    quantity = draw(st.integers(1, 10_000))
    paid = draw(amounts(currency, high=10**6))
    # Any split of the line into steps: the cuts between them.
    cuts = sorted(draw(st.sets(st.integers(1, max(quantity - 1, 1)), max_size=30)) - {quantity})
    bounds = [0, *cuts, quantity]
    return currency, quantity, paid, [b - a for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300)
@given(refund_steps())
def test_a_line_refunded_in_any_steps_returns_exactly_what_was_paid_and_never_more(case):
    currency, quantity, paid, steps = case
    refunded_units, refunded = 0, money.ZERO

    for units in steps:
        share = totals.refund_share(paid, quantity, refunded_units, units, currency)
        assert share >= 0
        assert money.fits_currency(share, currency)
        refunded_units += units
        refunded += share
        assert refunded <= paid

    assert refunded == paid
