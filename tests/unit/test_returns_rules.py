"""The returns' pure rules: the lifecycle, who may move a return, the window,
lines never returned beyond their quantity, what a receipt names, and what
receiving refunds (Hypothesis: never more than a line was paid, and a whole
line returned in any steps refunds exactly its paid amount less deductions)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.errors import Forbidden, InvalidInput, ReturnConflict, TransitionForbidden
from chalicelib.identity.principal import Principal
from chalicelib.orders import totals
from chalicelib.returns import access, rules
from chalicelib.returns.schemas import load_new_return, load_return_update
from tests.support import FROZEN_AT

STAFF = Principal(sub='s', role='staff')
ADA = Principal(sub='a', role='customer', user_id=1)
FULFILMENT = Principal(sub='f', role='service')


@pytest.mark.parametrize(
    ('current', 'new'),
    [
        ('requested', 'approved'),
        ('requested', 'declined'),
        ('requested', 'cancelled'),
        ('approved', 'cancelled'),
        ('approved', 'received'),
    ],
)
def test_staff_make_every_move_the_lifecycle_draws(current, new):
    rules.check_move(current, new)
    access.check_can_move(STAFF, current, new)


@pytest.mark.parametrize(
    ('current', 'new'),
    [
        ('requested', 'received'),
        ('requested', 'requested'),
        ('approved', 'declined'),
        ('approved', 'requested'),
        ('approved', 'approved'),
        ('received', 'cancelled'),
        ('declined', 'approved'),
        ('cancelled', 'requested'),
    ],
)
def test_any_other_move_is_a_409_naming_both_states(current, new):
    with pytest.raises(TransitionForbidden) as refused:
        rules.check_move(current, new)

    assert f"'{current}'" in str(refused.value) and f"'{new}'" in str(refused.value)


def test_a_customer_cancels_only_while_requested_and_asks_for_nothing_else():
    access.check_can_move(ADA, 'requested', 'cancelled')
    with pytest.raises(Forbidden):
        access.check_can_move(ADA, 'approved', 'cancelled')
    for status in ('approved', 'declined', 'received'):
        with pytest.raises(Forbidden):
            access.check_can_move(ADA, 'requested', status)


def test_the_service_role_reads_but_never_writes_returns():
    with pytest.raises(Forbidden):
        access.check_can_open(FULFILMENT)
    with pytest.raises(Forbidden):
        access.check_can_move(FULFILMENT, 'requested', 'approved')
    assert FULFILMENT.role not in access.MOVERS
    access.check_can_open(ADA)
    access.check_can_open(STAFF)


def test_the_window_counts_from_delivery_and_zero_days_closes_it_to_customers():
    delivered = FROZEN_AT
    rules.check_can_open('customer', 'delivered', delivered, delivered + timedelta(days=30), 30)
    for now, days in ((delivered + timedelta(days=30, microseconds=1), 30), (delivered, 0)):
        with pytest.raises(ReturnConflict):
            rules.check_can_open('customer', 'delivered', delivered, now, days)
    with pytest.raises(ReturnConflict):
        rules.check_can_open('customer', 'shipped', None, delivered, 30)
    # Staff: shipped or delivered, whenever.
    rules.check_can_open('staff', 'shipped', None, delivered + timedelta(days=999), 0)
    with pytest.raises(ReturnConflict):
        rules.check_can_open('staff', 'paid', None, delivered, 30)


def test_lines_are_refused_beyond_what_other_returns_leave_keyed_by_index():
    with pytest.raises(ReturnConflict) as beyond:
        rules.check_lines([(7, 1), (8, 2)], {7: 1, 8: 3}, {8: 2})
    with pytest.raises(InvalidInput) as twice:
        rules.check_lines([(7, 1), (7, 1)], {7: 3}, {})

    assert beyond.value.errors == {
        'items': {'1': {'quantity': ['Only 1 of this line may be returned.']}}
    }
    assert 'twice' in str(twice.value.errors['items']['1'])


def test_a_receipt_names_every_line_once_within_its_quantity():
    rules.check_receipt({7: 2, 8: 1}, [(8, 0), (7, 2)])
    for received in ([(7, 2)], [(7, 3), (8, 1)], [(7, 1), (7, 1), (8, 1)], [(9, 1)]):
        with pytest.raises(InvalidInput):
            rules.check_receipt({7: 2, 8: 1}, received)


def test_receiving_refunds_each_line_by_the_per_line_rule_less_the_deduction():
    refund = rules.receipt_refund(
        {7: 1, 8: 1},
        {7: (3, Decimal('86.03')), 8: (1, Decimal('49.99'))},
        {},
        Decimal('4.99'),
        Decimal('1000'),
        'USD',
    )

    assert refund == rules.ReceiptRefund(Decimal('73.68'), ((7, 1), (8, 1)))


def test_units_already_refunded_are_not_paid_again_and_what_is_left_caps_the_refund():
    ordered = {7: (2, Decimal('59.98'))}

    assert rules.receipt_refund({7: 2}, ordered, {7: 2}, Decimal(0), Decimal(100), 'USD') is None
    assert rules.receipt_refund(
        {7: 2}, ordered, {7: 1}, Decimal(0), Decimal(100), 'USD'
    ) == rules.ReceiptRefund(Decimal('29.99'), ((7, 1),))
    assert rules.receipt_refund(
        {7: 2}, ordered, {}, Decimal(0), Decimal('10.00'), 'USD'
    ) == rules.ReceiptRefund(Decimal('10.00'), ((7, 2),))
    assert rules.receipt_refund({7: 2}, ordered, {}, Decimal(0), Decimal(0), 'USD') is None
    assert rules.receipt_refund({7: 1}, ordered, {}, Decimal('29.99'), Decimal(100), 'USD') is None


cents = st.integers(min_value=0, max_value=10_000_000).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def line_in_steps(draw):
    """A line of n units paid `paid`, returned in steps (units received each
    time) with a deduction each time."""
    quantity = draw(st.integers(min_value=1, max_value=50))
    paid = draw(cents)
    steps = []
    left = quantity
    while left:
        units = draw(st.integers(min_value=1, max_value=left))
        steps.append((units, draw(cents.filter(lambda d: d <= Decimal('5.00')))))
        left -= units
    return quantity, paid, steps


@given(line_in_steps())
def test_a_line_returned_in_any_steps_refunds_exactly_what_was_paid_less_deductions(case):
    quantity, paid, steps = case
    refunded, given_back, kept = 0, Decimal(0), Decimal(0)
    for units, deduction in steps:
        share = totals.refund_share(paid, quantity, refunded, units, 'USD')
        refund = rules.receipt_refund(
            {1: units}, {1: (quantity, paid)}, {1: refunded}, deduction, Decimal(10**9), 'USD'
        )
        amount = refund.amount if refund is not None else Decimal(0)
        assert amount == max(share - deduction, Decimal(0))
        assert given_back + amount <= paid
        kept += share - amount
        given_back += amount
        # The units count as refunded when a refund paid for them; a receipt
        # that refunded nothing (all of it deducted) counts them here too.
        refunded += units

    assert given_back + kept == paid


@given(
    st.integers(min_value=1, max_value=50).flatmap(
        lambda n: st.tuples(
            st.just(n),
            cents,
            st.integers(min_value=0, max_value=n),
            st.integers(min_value=0, max_value=n),
        )
    )
)
def test_a_receipt_never_refunds_more_than_was_paid_for_the_line(case):
    quantity, paid, before, received = case
    refund = rules.receipt_refund(
        {1: received}, {1: (quantity, paid)}, {1: before}, Decimal(0), Decimal(10**9), 'USD'
    )

    if refund is not None:
        assert refund.amount <= paid - totals.round_minor(paid * before / quantity, 'USD')
        assert refund.items == ((1, min(received, quantity - before)),)


def test_a_return_request_is_held_to_its_rules():
    assert load_new_return({'items': [{'order_item_id': 1, 'quantity': 2}]}).items[0].quantity == 2
    for body in (
        {'items': []},
        {'items': [{'order_item_id': 1, 'quantity': 1}] * 101},
        {'items': [{'order_item_id': 1, 'quantity': True}]},
        {'items': [{'order_item_id': 1, 'quantity': 1}], 'note': 'x\u0007'},
        {'items': [{'order_item_id': 1, 'quantity': 1}], 'unknown': 1},
        {'note': 'no items'},
    ):
        with pytest.raises(InvalidInput):
            load_new_return(body)


def test_a_move_carries_only_what_its_status_takes():
    received = load_return_update(
        {
            'status': 'received',
            'items': [{'order_item_id': 1, 'received': 0, 'restock': False}],
            'deduction': Decimal('4.99'),
            'reason': 'Return shipping',
        }
    )

    assert (received.deduction, received.items[0].received) == (Decimal('4.99'), 0)
    for body in (
        {'status': 'declined'},
        {'status': 'received'},
        {'status': 'approved', 'deduction': 1, 'reason': 'x'},
        {'status': 'received', 'items': [{'order_item_id': 1, 'received': 1}]},
        {'status': 'shipped'},
        {'status': 'requested'},
    ):
        with pytest.raises(InvalidInput):
            load_return_update(body)
