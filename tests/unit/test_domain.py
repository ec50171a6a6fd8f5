"""The order rules: exact totals (money.py), the lifecycle (orders/lifecycle.py)
and which event a change publishes (events/messages.py). No database."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from itertools import product

import pytest

from chalicelib.core import money
from chalicelib.core.errors import TransitionForbidden
from chalicelib.events import messages
from chalicelib.orders import lifecycle, payment

# The contract's lifecycle diagram, arrow by arrow.
ARROWS = {
    ('pending', 'paid'),
    ('pending', 'shipped'),
    ('pending', 'cancelled'),
    ('paid', 'shipped'),
    ('paid', 'cancelled'),
    ('shipped', 'delivered'),
}
STATUSES = ('pending', 'paid', 'shipped', 'delivered', 'cancelled')
FORBIDDEN = sorted(
    (a, b) for a, b in product(STATUSES, STATUSES) if a != b and (a, b) not in ARROWS
)


def line(quantity, price):
    return {'quantity': quantity, 'price_at_order': Decimal(price)}


# -- order_total ----------------------------------------------------------------


def test_order_total_is_exact_decimal_arithmetic():
    total = money.order_total([line(3, '0.10'), line(1, '0.20')])

    assert total == Decimal('0.50')
    assert isinstance(total, Decimal)
    assert str(total) == '0.50'


def test_order_total_of_tenths_never_drifts_like_floats():
    total = money.order_total([line(1, '0.10'), line(1, '0.20')])

    assert str(total) == '0.30'


def test_order_total_multiplies_quantity_by_price_and_sums_lines():
    total = money.order_total([line(2, '29.99'), line(1, '49.99')])

    assert total == Decimal('109.97')


def test_order_total_reaches_the_largest_storable_amount_exactly():
    total = money.order_total([line(1, '99999999.99')])

    assert total == money.MAX_MONEY == Decimal('99999999.99')


def test_order_total_of_free_items_is_zero_with_two_places():
    assert str(money.order_total([line(5, '0.00')])) == '0.00'


def test_order_total_of_no_items_is_zero():
    assert str(money.order_total([])) == '0.00'


def test_order_total_handles_many_lines_without_rounding():
    total = money.order_total([line(10000, '0.01')] * 100)

    assert total == Decimal('10000.00')


# -- lifecycle ------------------------------------------------------------------


@pytest.mark.parametrize('current,new', sorted(ARROWS))
def test_every_lifecycle_arrow_is_allowed_and_changes_the_order(current, new):
    assert lifecycle.check_transition(current, new) is True


@pytest.mark.parametrize('current,new', FORBIDDEN)
def test_move_outside_the_arrows_raises_transition_forbidden_naming_both_states(current, new):
    with pytest.raises(TransitionForbidden) as raised:
        lifecycle.check_transition(current, new)

    message = str(raised.value)
    assert f"'{current}'" in message
    assert f"'{new}'" in message


@pytest.mark.parametrize('status', STATUSES)
def test_setting_the_same_status_is_a_noop_returning_false(status):
    assert lifecycle.check_transition(status, status) is False


@pytest.mark.parametrize('final', ['delivered', 'cancelled'])
def test_final_states_allow_no_move_and_say_so(final):
    for new in STATUSES:
        if new == final:
            continue
        with pytest.raises(TransitionForbidden) as raised:
            lifecycle.check_transition(final, new)
        assert 'final' in str(raised.value)


def test_allowed_moves_are_exactly_the_contract_arrows():
    allowed = set()
    for current, new in product(STATUSES, STATUSES):
        try:
            if lifecycle.check_transition(current, new):
                allowed.add((current, new))
        except TransitionForbidden:
            pass

    assert allowed == ARROWS


def test_statuses_are_the_contracts_five():
    assert set(lifecycle.STATUSES) == set(STATUSES)


def test_transition_forbidden_carries_no_field_errors():
    with pytest.raises(TransitionForbidden) as raised:
        lifecycle.check_transition('delivered', 'pending')

    assert raised.value.errors is None


# -- events ---------------------------------------------------------------------


def test_status_change_to_shipped_is_an_order_shipped_event():
    assert messages.type_for_status('shipped') == 'order_shipped'


def test_status_change_to_cancelled_is_an_order_cancelled_event():
    assert messages.type_for_status('cancelled') == 'order_cancelled'


@pytest.mark.parametrize('status', ['pending', 'paid', 'delivered'])
def test_any_other_status_change_is_an_order_updated_event(status):
    assert messages.type_for_status(status) == 'order_updated'


@pytest.mark.parametrize(
    'paid, refunded, due',
    [
        ('109.97', '0.00', '109.97'),
        ('0.00', '0.00', '0.00'),
        ('109.97', '10.00', '99.97'),
        ('109.97', '109.97', '0.00'),
    ],
)
def test_a_cancellation_owes_what_was_paid_and_not_yet_refunded(paid, refunded, due):
    owed = payment.refund_due(Decimal(paid), Decimal(refunded))

    assert owed == Decimal(due) and isinstance(owed, Decimal)


@pytest.mark.parametrize(
    'paid, refunded, status',
    [
        ('0.00', '0.00', 'unpaid'),
        ('109.97', '0.00', 'paid'),
        ('109.97', '10.00', 'partially_refunded'),
        ('109.97', '109.97', 'refunded'),
        ('2400', '0', 'paid'),
    ],
)
def test_payment_status_follows_from_the_amounts(paid, refunded, status):
    assert payment.payment_status(Decimal(paid), Decimal(refunded)) == status


def test_cancellation_details_send_the_refund_as_a_json_number_and_the_reason():
    details = messages.cancelled_details(Decimal('0.30'), 'changed my mind')

    assert json.dumps(details) == '{"refund_due": 0.3, "reason": "changed my mind"}'
    assert (
        json.dumps(messages.cancelled_details(Decimal('0.00'), None))
        == '{"refund_due": 0.0, "reason": null}'
    )


def test_every_event_type_has_the_contracts_sns_subject():
    assert messages.SUBJECTS == {
        'order_created': 'Order Created',
        'order_updated': 'Order Updated',
        'order_shipped': 'Order Shipped',
        'order_cancelled': 'Order Cancelled',
        'order_deleted': 'Order Deleted',
        'order_refunded': 'Order Refunded',
        'return_requested': 'Return Requested',
        'return_approved': 'Return Approved',
        'return_declined': 'Return Declined',
        'return_received': 'Return Received',
    }


def mug_line(**changes):
    return {
        'order_item_id': 12,
        'sku': 'MUG-1',
        'name': 'Mug',
        'quantity': 2,
        'reason': 'Too small',
        'received': None,
        'restocked': None,
        **changes,
    }


def test_a_requested_return_event_carries_the_return_and_its_lines_and_no_money():
    details = messages.return_details(3, 'requested', [mug_line()])

    assert json.loads(json.dumps(details)) == {
        'return_id': 3,
        'return_status': 'requested',
        'items': [mug_line()],
        'reason': None,
        'refund_id': None,
        'deduction': 0,
    }


def test_a_received_return_event_carries_its_refund_and_deduction_as_json_numbers():
    details = messages.return_details(
        3,
        'received',
        [
            mug_line(received=1, restocked=True),
            mug_line(order_item_id=13, received=0, restocked=False),
        ],
        reason='Return shipping',
        refund_id=9,
        deduction=Decimal('4.50'),
    )

    assert json.dumps(details['deduction']) == '4.5'
    assert (details['refund_id'], details['reason']) == (9, 'Return shipping')
    assert [(line['received'], line['restocked']) for line in details['items']] == [
        (1, True),
        (0, False),
    ]


def test_a_return_event_copies_its_lines_so_the_caller_cannot_change_it_later():
    lines = [mug_line()]
    details = messages.return_details(3, 'declined', lines, reason='Worn')

    lines[0]['quantity'] = 99
    lines.append(mug_line(order_item_id=13))

    assert details['items'] == [mug_line()] and details['reason'] == 'Worn'


def test_a_return_event_keeps_the_orders_fields_and_status_beside_the_returns():
    class Order:
        order_id, user_id, user_email = 7, 1, 'ada@example.com'
        status, order_total, currency = 'delivered', Decimal('109.97'), 'USD'

    body = messages.event_body(
        'e-1',
        messages.RETURN_APPROVED,
        Order(),
        datetime(2026, 12, 7, 10, tzinfo=UTC),
        messages.return_details(3, 'approved', [mug_line()]),
    )

    assert (body['status'], body['return_status'], body['return_id']) == (
        'delivered',
        'approved',
        3,
    )
    assert body['order_total'] == 109.97 and body['items'] == [mug_line()]
