"""What a payment or a refund may be (payments/rules.py): pure rules."""

from decimal import Decimal

import pytest

from chalicelib.core.errors import InvalidInput, PaymentConflict
from chalicelib.payments import rules


@pytest.mark.parametrize(
    'total, currency, units, paid_currency, matching',
    [
        ('109.97', 'USD', 10997, 'usd', True),
        ('109.97', 'USD', 10996, 'usd', False),
        ('109.97', 'USD', 10997, 'eur', False),
        ('2400', 'JPY', 2400, 'jpy', True),
        ('109.97', 'USD', 10997.0, 'usd', False),
        ('109.97', 'USD', None, 'usd', False),
    ],
)
def test_a_payment_matches_only_the_total_in_minor_units_and_currency(
    total, currency, units, paid_currency, matching
):
    assert rules.matches(Decimal(total), currency, units, paid_currency) is matching


def test_refundable_is_paid_less_refunded_less_pending_never_below_zero():
    left = rules.refundable(Decimal('109.97'), Decimal('10.00'), Decimal('9.97'))
    assert left == Decimal('90.00')
    assert rules.refundable(Decimal('10'), Decimal('10'), Decimal('5')) == Decimal('0.00')


@pytest.mark.parametrize(
    'amount, left, error',
    [
        ('110.00', '109.97', PaymentConflict),
        ('1', '0', PaymentConflict),
        ('0', '5', InvalidInput),
        ('0.5', '5', None),
    ],
)
def test_a_refund_amount_is_positive_and_at_most_what_is_left(amount, left, error):
    if error is None:
        assert rules.check_refund(1, Decimal(amount), Decimal(left), 'USD') == Decimal(amount)
    else:
        with pytest.raises(error):
            rules.check_refund(1, Decimal(amount), Decimal(left), 'USD')


def test_a_refund_has_no_more_decimals_than_its_currency():
    with pytest.raises(InvalidInput):
        rules.check_refund(1, Decimal('0.5'), Decimal('2400'), 'JPY')


def test_refunding_lines_counts_earlier_refunds_of_each_line():
    ordered = {1: (2, Decimal('29.99')), 2: (1, Decimal('49.99'))}

    assert rules.items_amount(
        [{'order_item_id': 1, 'quantity': 1}, {'order_item_id': 2, 'quantity': 1}], ordered, {1: 1}
    ) == Decimal('79.98')
    with pytest.raises(PaymentConflict) as refused:
        rules.items_amount(
            [{'order_item_id': 1, 'quantity': 1}, {'order_item_id': 1, 'quantity': 1}],
            ordered,
            {1: 1},
        )
    assert refused.value.errors == {'items': {'1': ['Only 1 of this line may still be refunded.']}}
    with pytest.raises(InvalidInput):
        rules.items_amount([{'order_item_id': 3, 'quantity': 1}], ordered, {})


@pytest.mark.parametrize(
    'stripe_status, ours',
    [
        ('succeeded', 'succeeded'),
        ('failed', 'failed'),
        ('canceled', 'failed'),
        ('pending', 'pending'),
        ('requires_action', 'pending'),
        (None, 'pending'),
    ],
)
def test_a_stripe_refund_status_maps_to_ours(stripe_status, ours):
    assert rules.refund_status_of(stripe_status) == ours


@pytest.mark.parametrize(
    'status, total', [('paid', '1.00'), ('cancelled', '1.00'), ('pending', '0.00')]
)
def test_only_a_pending_order_with_something_to_pay_takes_a_payment(status, total):
    with pytest.raises(PaymentConflict):
        rules.check_payable(1, status, Decimal(total))
