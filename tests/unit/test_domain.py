from decimal import Decimal

import pytest

from chalicelib import domain
from chalicelib.errors import TransitionForbidden

ARROWS = [('pending', 'paid'), ('pending', 'shipped'), ('pending', 'cancelled'),
          ('paid', 'shipped'), ('paid', 'cancelled'), ('shipped', 'delivered')]


def test_total_is_exact_decimal_arithmetic():
    items = [{'quantity': 3, 'price_at_order': Decimal('0.10')},
             {'quantity': 1, 'price_at_order': Decimal('0.20')}]

    assert domain.order_total(items) == Decimal('0.50')


def test_total_of_the_contract_example():
    items = [{'quantity': 2, 'price_at_order': Decimal('29.99')},
             {'quantity': 1, 'price_at_order': Decimal('49.99')}]

    assert domain.order_total(items) == Decimal('109.97')


@pytest.mark.parametrize('current, new', ARROWS)
def test_every_arrow_of_the_lifecycle_changes_the_order(current, new):
    assert domain.check_transition(current, new) is True


@pytest.mark.parametrize('current, new', [
    (current, new) for current in domain.STATUSES for new in domain.STATUSES
    if current != new and (current, new) not in ARROWS])
def test_every_other_move_is_forbidden_naming_both_states(current, new):
    with pytest.raises(TransitionForbidden) as refused:
        domain.check_transition(current, new)

    assert current in str(refused.value) and new in str(refused.value)


@pytest.mark.parametrize('status', domain.STATUSES)
def test_same_status_is_a_no_op(status):
    assert domain.check_transition(status, status) is False


def test_shipping_has_its_own_event_type_other_changes_are_updates():
    assert domain.event_type_for_status('shipped') == 'order_shipped'
    assert {domain.event_type_for_status(s) for s in ('paid', 'delivered', 'cancelled')} == {
        'order_updated'}
