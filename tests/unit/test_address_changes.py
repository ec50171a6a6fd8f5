"""An address change decided without a database (orders/changes.plan_order_update):
who may ask, until when, what is taxed again and when a total may not move;
and a Hypothesis property: after any address change the order's totals still
add up, to the cent, from its lines and its shipping."""

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import (
    Forbidden,
    OrderNotFound,
    ShippingMethodRefused,
    TotalChanged,
    TransitionForbidden,
    VersionMismatch,
)
from chalicelib.identity.principal import CUSTOMER, SERVICE, STAFF, Principal
from chalicelib.orders import totals
from chalicelib.orders.addresses import Address
from chalicelib.orders.changes import (
    Destination,
    StatusRequest,
    destination_after,
    plan_order_update,
)
from chalicelib.orders.commands import AddressChange

D = Decimal
NOW = datetime(2030, 1, 1, 12, 0, 0)
ADA = Principal(sub='ada', role=CUSTOMER, user_id=1)
BOB = Principal(sub='bob', role=CUSTOMER, user_id=2)
STAFF_MEMBER = Principal(sub='staff-1', role=STAFF)
FULFILMENT = Principal(sub='fulfilment', role=SERVICE)
ILLINOIS = Address('Ada', '12 Main St', 'Springfield', 'US', region='IL', postal_code='62704')
OREGON = Address('Ada', '1 Main St', 'Portland', 'US', region='OR', postal_code='97201')
TORONTO = Address('Ada', '1 Front St W', 'Toronto', 'CA', region='ON', postal_code='M5J 2X5')
BERLIN = Address('Ada', 'Unter den Linden 1', 'Berlin', 'DE', postal_code='10117')
ILLINOIS_TAX = totals.TaxZone({'standard': D('0.0625')}, shipping=True)


def line(order_item_id, quantity, price, discount='0.00', tax='0.00', rate='0'):
    return SimpleNamespace(
        order_item_id=order_item_id,
        product_id=100 + order_item_id,
        quantity=quantity,
        holds_stock=False,
        price_at_order=D(price),
        discount=D(discount),
        tax=D(tax),
        tax_rate=D(rate),
        tax_class='standard',
    )


MUGS = [line(1, 2, '29.99'), line(2, 1, '49.99')]
TO_ILLINOIS = AddressChange(shipping=ILLINOIS)


def order(status='pending', total='109.97', shipping=OREGON, method=None, **extra):
    fields = dict(
        order_id=7,
        user_id=1,
        status=status,
        version=1,
        order_total=D(total),
        amount_paid=D(total) if status == 'paid' else D('0.00'),
        amount_refunded=D('0.00'),
        currency='USD',
        payment_reference=None,
        payment_intent_id=None,
        subtotal=D('109.97'),
        discount_total=D('0.00'),
        tax_total=D('0.00'),
        prices_include_tax=False,
        shipping_address=None if shipping is None else shipping.to_json(),
        billing_address=None,
        shipping_method=method,
        shipping_name=None if method is None else 'Standard, 3-5 days',
        shipping_amount=D('0.00'),
        shipping_tax=D('0.00'),
        shipping_waived=D('0.00'),
    )
    fields.update(extra)
    return SimpleNamespace(**fields)


def plan(
    current,
    addresses=None,
    principal=ADA,
    zone=ILLINOIS_TAX,
    countries=frozenset(),
    status=None,
    lines=MUGS,
    **kwargs,
):
    return plan_order_update(
        current,
        lines,
        principal,
        status,
        addresses or TO_ILLINOIS,
        Destination(zone, countries),
        NOW,
        **kwargs,
    )


def test_a_move_to_a_taxed_zone_taxes_every_line_and_writes_the_new_totals():
    change = plan(order())

    assert change.fields == {
        'shipping_address': ILLINOIS.to_json(),
        'billing_address': None,
        'subtotal': D('109.97'),
        'tax_total': D('6.87'),
        'shipping_tax': D('0.00'),
        'order_total': D('116.84'),
        'version': 2,
        'updated_at': NOW,
    }
    assert change.lines == {
        1: {'tax': D('3.75'), 'tax_rate': D('0.0625')},
        2: {'tax': D('3.12'), 'tax_rate': D('0.0625')},
    }
    assert (change.event_type, change.event_details) == (
        'order_updated',
        {'subtotal': 109.97, 'discount_total': 0.0, 'shipping_total': 0.0, 'tax_total': 6.87},
    )
    assert (change.history.version, change.history.status, change.history.reason) == (
        2,
        'pending',
        'Shipping address changed',
    )


def test_the_same_addresses_are_no_change():
    assert plan(order(shipping=ILLINOIS)) is None


def test_only_the_lines_whose_tax_moves_are_rewritten():
    taxed = [line(1, 2, '29.99', tax='3.75', rate='0.0625'), line(2, 1, '49.99')]

    change = plan(order(), lines=taxed)

    assert change.lines == {2: {'tax': D('3.12'), 'tax_rate': D('0.0625')}}


def test_discounts_and_the_shipping_charged_stay_as_placed():
    lines = [line(1, 2, '29.99', discount='6.00'), line(2, 1, '49.99', discount='5.00')]
    current = order(
        total='103.96',
        method='standard',
        discount_total=D('11.00'),
        shipping_amount=D('4.99'),
    )

    change = plan(current, lines=lines, countries=frozenset({'US'}))

    # The contract's example: lines 3.37 and 2.81, shipping 0.31.
    assert change.lines == {
        1: {'tax': D('3.37'), 'tax_rate': D('0.0625')},
        2: {'tax': D('2.81'), 'tax_rate': D('0.0625')},
    }
    assert (change.fields['shipping_tax'], change.fields['order_total']) == (
        D('0.31'),
        D('110.45'),
    )


def test_a_billing_change_keeps_the_tax_where_the_goods_still_go():
    change = plan(order(shipping=ILLINOIS), AddressChange(billing=BERLIN, sets_billing=True))

    assert change.fields == {
        'shipping_address': ILLINOIS.to_json(),
        'billing_address': BERLIN.to_json(),
        'version': 2,
        'updated_at': NOW,
    }
    assert change.lines == {}
    assert change.history.reason == 'Billing address changed'


def test_the_billing_address_is_the_destination_without_a_shipping_address():
    current = order(shipping=None)
    addresses = AddressChange(billing=ILLINOIS, sets_billing=True)

    assert destination_after(current, addresses) == ILLINOIS
    assert plan(current, addresses).fields['tax_total'] == D('6.87')


def test_who_may_change_addresses():
    assert plan(order(), principal=STAFF_MEMBER) is not None
    with pytest.raises(Forbidden):
        plan(order(), principal=FULFILMENT)
    with pytest.raises(OrderNotFound):
        plan(order(), principal=BOB)
    with pytest.raises(Forbidden):  # a customer sets no status but cancelled
        plan(order(), status=StatusRequest('paid'))


@pytest.mark.parametrize('status', ['shipped', 'delivered', 'cancelled'])
def test_once_shipped_or_ended_addresses_stay(status):
    with pytest.raises(TransitionForbidden):
        plan(order(status), principal=STAFF_MEMBER)


def test_if_match_must_name_the_current_version():
    with pytest.raises(VersionMismatch):
        plan(order(), expected_version=3)


def test_a_total_bound_to_money_never_moves():
    with pytest.raises(TotalChanged):
        plan(order('paid'))
    with pytest.raises(TotalChanged):
        plan(order(payment_intent_id='pi_1'))
    # Where the total stays, a paid order still moves.
    assert plan(order('paid'), zone=None) is not None


def test_prices_that_include_tax_let_a_paid_order_move_its_tax_but_not_its_total():
    change = plan(order('paid', prices_include_tax=True))

    assert change.fields['order_total'] == D('109.97')
    assert change.fields['tax_total'] == D('6.47')  # 59.98 - 56.45 + 49.99 - 47.05


def test_a_new_country_must_be_one_the_method_ships_to():
    placed = order(shipping=ILLINOIS, method='standard')

    assert plan(placed, AddressChange(shipping=OREGON), countries=frozenset()) is not None
    assert plan(placed, AddressChange(shipping=TORONTO), countries={'US', 'CA'}) is not None
    with pytest.raises(ShippingMethodRefused) as refused:
        plan(placed, AddressChange(shipping=BERLIN), countries={'US', 'CA'})
    assert list(refused.value.errors['shipping_address']) == ['country']


def test_with_a_status_it_is_one_change_the_status_event_and_the_new_total_paid():
    change = plan(order(), principal=STAFF_MEMBER, status=StatusRequest('paid'))

    assert (change.fields['status'], change.fields['version']) == ('paid', 2)
    assert change.fields['amount_paid'] == change.fields['order_total'] == D('116.84')
    assert change.event_type == 'order_updated'
    assert change.history.status == 'paid'


def test_a_cancellation_beside_a_move_keeps_its_reason_and_event():
    change = plan(
        order(),
        status=StatusRequest('cancelled', details={'reason': 'Wrong address'}),
    )

    assert change.event_type == 'order_cancelled'
    assert change.history.reason == 'Wrong address'


# -- property ---------------------------------------------------------------

_MONEY = st.decimals(min_value=D('0.01'), max_value=D('999.99'), places=2)
_RATE = st.decimals(min_value=D(0), max_value=D('0.25'), places=4)


@st.composite
def placed_orders(draw):
    """An order as placed (its lines' discounts and its shipping as the
    calculator gave them at one zone), and another zone to move it to."""
    lines = draw(
        st.lists(
            st.tuples(st.integers(1, 5), _MONEY, st.sampled_from(['standard', 'reduced'])),
            min_size=1,
            max_size=6,
        )
    )
    calc_lines = [totals.Line(quantity, price, tax_class) for quantity, price, tax_class in lines]
    discount = draw(
        st.none()
        | st.builds(totals.Discount, st.just('percent'), st.integers(1, 100).map(D))
        | st.builds(totals.Discount, st.just('fixed'), _MONEY)
        | st.just(totals.Discount('free_shipping'))
    )
    shipping = draw(st.none() | st.builds(totals.Shipping, _MONEY))
    zones = st.none() | st.builds(
        totals.TaxZone,
        st.fixed_dictionaries({'standard': _RATE}, optional={'reduced': _RATE}),
        st.booleans(),
    )
    before, after = draw(zones), draw(zones)
    included = draw(st.booleans())
    placed = totals.compute(
        calc_lines,
        'USD',
        discount=discount,
        shipping=shipping,
        zone=before,
        prices_include_tax=included,
    )
    rows = [
        SimpleNamespace(
            order_item_id=index + 1,
            product_id=index + 1,
            quantity=quantity,
            holds_stock=False,
            price_at_order=price,
            discount=computed.discount,
            tax=computed.tax,
            tax_rate=computed.tax_rate,
            tax_class=tax_class,
        )
        for index, ((quantity, price, tax_class), computed) in enumerate(
            zip(lines, placed.lines, strict=True)
        )
    ]
    current = order(
        total=str(placed.order_total),
        subtotal=placed.subtotal,
        discount_total=placed.discount_total,
        tax_total=placed.tax_total,
        prices_include_tax=included,
        shipping_amount=placed.shipping.amount,
        shipping_waived=placed.shipping.waived,
        shipping_tax=placed.shipping.tax,
    )
    return current, rows, after


@settings(max_examples=200, deadline=None)
@given(placed_orders())
def test_after_any_address_change_the_totals_add_up_from_the_lines(case):
    current, rows, zone = case

    change = plan(current, principal=STAFF_MEMBER, zone=zone, lines=rows)

    order_after = {**vars(current), **change.fields}
    taxes = [change.lines.get(row.order_item_id, {'tax': row.tax})['tax'] for row in rows]
    subtotal = sum((row.price_at_order * row.quantity for row in rows), D(0))
    discounts = sum((row.discount for row in rows), D(0))
    shipping = order_after['shipping_amount'] - order_after['shipping_waived']
    tax = sum(taxes, D(0)) + order_after['shipping_tax']
    assert order_after['subtotal'] == subtotal
    assert order_after['discount_total'] == discounts  # discounts never move
    assert order_after['tax_total'] == tax
    expected = subtotal - discounts + shipping + (0 if current.prices_include_tax else tax)
    assert order_after['order_total'] == expected
    assert all(t >= 0 and t == t.quantize(D('0.01')) for t in taxes)
