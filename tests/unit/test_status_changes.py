"""A status change decided without a database (orders/changes.py): the new
fields, the event, the history entry and the stock each move makes."""

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from chalicelib.catalog.stock_rules import available, held, shortages
from chalicelib.core.errors import (
    Forbidden,
    OrderNotFound,
    RefundInFlight,
    TransitionForbidden,
    VersionMismatch,
)
from chalicelib.identity.principal import CUSTOMER, STAFF, SYSTEM, Principal
from chalicelib.orders.changes import (
    CardPayment,
    LatePayment,
    Mismatch,
    SettledRefund,
    StatusRequest,
    plan_card_payment,
    plan_delete,
    plan_refund,
    plan_status_change,
    with_refund,
)

NOW = datetime(2030, 1, 1, 12, 0, 0, 500)
ADA = Principal(sub='ada', role=CUSTOMER, user_id=1)
STAFF_MEMBER = Principal(sub='staff-1', role=STAFF)
EXPIRY = Principal(sub='expire_unpaid', role=SYSTEM)


def order(
    status='pending',
    version=1,
    total='109.97',
    user_id=1,
    paid=None,
    refunded='0.00',
    reference=None,
    intent=None,
):
    """An order as the service reads it; a paid (shipped, delivered) one was
    paid its total unless `paid` says otherwise."""
    if paid is None:
        paid = total if status in ('paid', 'shipped', 'delivered') else '0.00'
    return SimpleNamespace(
        order_id=7,
        user_id=user_id,
        status=status,
        version=version,
        order_total=Decimal(total),
        amount_paid=Decimal(paid),
        amount_refunded=Decimal(refunded),
        currency='USD',
        payment_reference=reference,
        payment_intent_id=intent,
    )


def line(product_id, quantity, holds_stock=True):
    return SimpleNamespace(product_id=product_id, quantity=quantity, holds_stock=holds_stock)


LINES = [line(101, 2), line(102, 1, holds_stock=False), line(101, 1)]


def plan(current, principal=STAFF_MEMBER, status='cancelled', lines=LINES, **request):
    return plan_status_change(current, lines, principal, StatusRequest(status, **request), NOW)


def test_a_cancellation_releases_what_the_lines_hold_and_owes_nothing_unpaid():
    change = plan(order(), details={'reason': 'Changed my mind'})

    assert change.fields == {'status': 'cancelled', 'version': 2, 'updated_at': NOW}
    assert (change.event_type, change.event_details) == (
        'order_cancelled',
        {'refund_due': 0.0, 'reason': 'Changed my mind'},
    )
    assert change.release == {101: 3} and change.sell == {}
    assert (change.history.version, change.history.role, change.history.reason) == (
        2,
        'staff',
        'Changed my mind',
    )


def test_cancelling_a_paid_order_owes_its_total():
    assert plan(order('paid', 2)).event_details['refund_due'] == 109.97


def test_cancelling_a_partly_refunded_order_owes_what_is_left():
    assert plan(order('paid', 3, refunded='10.00')).event_details['refund_due'] == 99.97


def test_a_put_to_paid_records_a_payment_of_the_total_taken_outside():
    change = plan(order(), status='paid')

    assert change.fields == {
        'status': 'paid',
        'version': 2,
        'updated_at': NOW,
        'amount_paid': Decimal('109.97'),
        'payment_provider': None,
        'payment_reference': None,
    }


def test_shipping_sells_what_the_lines_hold_and_records_the_shipment():
    change = plan(
        order('paid', 2), status='shipped', details={'carrier': 'DHL', 'tracking_number': 'JD-1'}
    )

    assert change.fields == {
        'status': 'shipped',
        'version': 3,
        'updated_at': NOW,
        'carrier': 'DHL',
        'tracking_number': 'JD-1',
        'tracking_url': None,
        'shipped_at': NOW,
    }
    assert change.event_type == 'order_shipped'
    assert change.event_details['shipment']['shipped_at'] == '2030-01-01T12:00:00.000500Z'
    assert (change.sell, change.release) == ({101: 3}, {})


def test_paying_moves_no_stock():
    change = plan(order(), status='paid')

    assert (change.event_type, change.release, change.sell) == ('order_updated', {}, {})


def test_the_status_an_order_already_has_is_no_change():
    assert plan(order('paid', 2), status='paid') is None


def test_a_move_the_lifecycle_forbids_is_refused():
    with pytest.raises(TransitionForbidden):
        plan(order('shipped', 3), status='cancelled')


def test_a_stale_if_match_is_refused_before_the_lifecycle():
    with pytest.raises(VersionMismatch):
        plan(order('shipped', 3), status='cancelled', expected_version=2)


def test_a_customer_may_cancel_only_their_own_order():
    assert plan(order(), principal=ADA).history.role == 'customer'
    with pytest.raises(OrderNotFound):
        plan(order(user_id=2), principal=ADA)
    with pytest.raises(Forbidden):
        plan(order(), principal=ADA, status='paid')


def test_expiry_cancels_as_the_system_with_its_reason():
    change = plan(order(), principal=EXPIRY, details={'reason': 'not paid in time'})

    assert (change.history.role, change.history.sub, change.history.reason) == (
        'system',
        'expire_unpaid',
        'not paid in time',
    )


def test_deleting_frees_only_what_the_lines_still_hold():
    assert plan_delete(order(), LINES, 0).release == {101: 3}
    assert plan_delete(order(), [line(101, 2, holds_stock=False)], 0).release == {}


def test_an_order_with_a_refund_still_pending_is_not_deleted():
    paid = order(status='cancelled', paid='109.97', reference='pi_1', intent='pi_1')

    with pytest.raises(RefundInFlight, match='still being sent'):
        plan_delete(paid, LINES, 1)
    assert plan_delete(paid, LINES, 0).release == {101: 3}


def test_an_order_that_goes_unpaid_leaves_its_payment_intent_to_cancel():
    pending = order(intent='pi_1')

    assert plan(pending).cancel_intent == 'pi_1'
    assert plan(pending, principal=EXPIRY, details={'reason': 'x'}).cancel_intent == 'pi_1'
    assert plan_delete(pending, LINES, 0).cancel_intent == 'pi_1'
    # Paid outside with a card payment started: nobody may pay that intent either.
    assert plan(order(status='paid', intent='pi_1')).cancel_intent == 'pi_1'


def test_no_intent_to_cancel_without_one_when_it_paid_or_once_cancelled():
    assert plan(order()).cancel_intent is None
    assert plan_delete(order(), LINES, 0).cancel_intent is None
    card_paid = order(status='paid', intent='pi_1', reference='pi_1')
    assert plan(card_paid).cancel_intent is None  # refunded instead
    assert plan_delete(card_paid, LINES, 0).cancel_intent is None
    assert plan_delete(order(status='cancelled', intent='pi_1'), LINES, 0).cancel_intent is None
    assert plan(order(intent='pi_1'), status='paid').cancel_intent is None


def stocked(on_hand, reserved):
    return SimpleNamespace(on_hand=on_hand, reserved=reserved)


def test_available_is_never_below_zero_and_none_when_untracked():
    assert [available(stocked(10, 3)), available(stocked(2, 5)), available(stocked(None, 0))] == [
        7,
        0,
        None,
    ]


def test_a_product_on_two_lines_is_short_on_both_when_together_they_ask_too_much():
    products = {101: stocked(5, 2), 102: stocked(None, 0)}

    assert shortages([(0, 101, 2), (1, 102, 500), (2, 101, 2)], products) == {
        0: {'quantity': ['Only 3 available.']},
        2: {'quantity': ['Only 3 available.']},
    }
    assert shortages([(0, 101, 3)], products) == {}


def test_held_sums_the_holding_lines_by_product():
    assert held(LINES) == {101: 3}


# -- money: a card payment, a refund ----------------------------------------------

STRIPE_EVENT = Principal(sub='evt_1', role='payment')


def test_a_card_payment_of_the_total_pays_a_pending_order():
    change = plan_card_payment(order(), CardPayment('pi_1', 10997, 'USD'), STRIPE_EVENT, NOW)

    assert change.fields == {
        'status': 'paid',
        'version': 2,
        'updated_at': NOW,
        'amount_paid': Decimal('109.97'),
        'payment_provider': 'stripe',
        'payment_reference': 'pi_1',
    }
    assert change.events == [('order_updated', None)]
    assert (change.old_status, change.history.role, change.history.sub) == (
        'pending',
        'payment',
        'evt_1',
    )
    assert change.release == {} and change.sell == {}


@pytest.mark.parametrize(
    'paid', [CardPayment('pi_1', 10996, 'USD'), CardPayment('pi_1', 10997, 'JPY')]
)
def test_a_card_payment_of_another_amount_or_currency_changes_nothing(paid):
    assert isinstance(plan_card_payment(order(), paid, STRIPE_EVENT, NOW), Mismatch)


@pytest.mark.parametrize('status', ['cancelled', 'paid', 'shipped'])
def test_a_card_payment_an_order_can_no_longer_take_goes_back_in_full(status):
    late = plan_card_payment(
        order(status, reference=None), CardPayment('pi_1', 5000, 'JPY'), STRIPE_EVENT, NOW
    )

    assert late == LatePayment(Decimal('5000'), 'JPY')


def test_the_card_payment_an_order_already_records_is_no_change():
    recorded = order('paid', 2, reference='pi_1')

    assert plan_card_payment(recorded, CardPayment('pi_1', 10997, 'USD'), STRIPE_EVENT, NOW) is None


def test_a_refund_that_succeeded_is_a_version_of_its_own():
    paid = order('paid', 2, reference='pi_1', refunded='10.00')
    change = plan_refund(
        paid, SettledRefund(3, Decimal('4.00'), 'USD', 'Broken mug'), STAFF_MEMBER, NOW
    )

    assert change.fields == {'amount_refunded': Decimal('14.00'), 'version': 3, 'updated_at': NOW}
    assert change.events == [
        (
            'order_refunded',
            {'refund_id': 3, 'amount': 4.0, 'reason': 'Broken mug', 'amount_refunded': 14.0},
        )
    ]
    assert (change.history.status, change.history.reason) == ('paid', 'Refund 3: 4.00 USD')


def test_a_late_payments_refund_records_the_payment_as_it_goes_back():
    cancelled = order('cancelled', 2)
    change = plan_refund(
        cancelled,
        SettledRefund(3, Decimal('109.97'), 'USD', None, late_payment=True, reference='pi_1'),
        STRIPE_EVENT,
        NOW,
    )

    assert {name: change.fields[name] for name in ('amount_paid', 'amount_refunded')} == {
        'amount_paid': Decimal('109.97'),
        'amount_refunded': Decimal('109.97'),
    }
    assert (change.fields['payment_provider'], change.fields['payment_reference']) == (
        'stripe',
        'pi_1',
    )


def test_a_cancellation_that_refunds_at_once_stays_one_change():
    paid = order('paid', 2)
    cancel = plan(paid)
    change = with_refund(
        cancel, paid, SettledRefund(3, Decimal('109.97'), 'USD', 'Order cancelled')
    )

    assert change.fields == {**cancel.fields, 'amount_refunded': Decimal('109.97')}
    assert [kind for kind, _ in change.events] == ['order_cancelled', 'order_refunded']
    assert change.history == cancel.history
