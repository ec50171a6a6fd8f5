"""Every cell of the role table, through the pure access rules of the orders,
the catalog and the payments."""

import pytest

from chalicelib.catalog import access as catalog_access
from chalicelib.core.errors import Forbidden, InvalidInput, OrderNotFound
from chalicelib.identity import Principal
from chalicelib.orders.access import (
    check_can_read,
    check_delete,
    check_status_change,
    creation_owner,
    scope_for_list,
)
from chalicelib.orders.lifecycle import STATUSES
from chalicelib.payments import access as payment_access

ADA = Principal('sub-ada', 'customer', user_id=1, email='ada@example.com')
UNVERIFIED = Principal('sub-bob', 'customer', user_id=2, email=None)
STAFF = Principal('sub-staff', 'staff', user_id=9, email='staff@example.com')
STAFF_NO_USER = Principal('sub-ops', 'staff')
SERVICE = Principal('sub-fulfilment', 'service')
OTHER_USER = 5


# -- create -------------------------------------------------------------


def test_customer_leaving_out_user_id_creates_for_themselves():
    assert creation_owner(ADA, None, None) == (1, 'ada@example.com')


def test_customer_naming_themselves_creates_for_themselves():
    assert creation_owner(ADA, 1, None) == (1, 'ada@example.com')


def test_customer_creating_for_another_user_is_forbidden():
    with pytest.raises(Forbidden):
        creation_owner(ADA, OTHER_USER, None)


def test_customer_order_email_is_the_verified_email():
    assert creation_owner(ADA, None, 'ada@example.com')[1] == 'ada@example.com'


def test_customer_body_email_differing_only_in_case_keeps_the_verified_spelling():
    assert creation_owner(ADA, None, 'Ada@Example.COM')[1] == 'ada@example.com'


def test_customer_body_email_other_than_the_verified_one_is_forbidden():
    with pytest.raises(Forbidden):
        creation_owner(ADA, None, 'eve@example.com')


def test_customer_without_verified_email_gets_an_order_without_email():
    assert creation_owner(UNVERIFIED, None, None) == (2, None)


def test_customer_without_verified_email_sending_one_is_forbidden():
    with pytest.raises(Forbidden):
        creation_owner(UNVERIFIED, None, 'bob@example.com')


def test_staff_creates_for_any_user_with_any_email():
    assert creation_owner(STAFF, OTHER_USER, 'eve@example.com') == (OTHER_USER, 'eve@example.com')


def test_staff_creating_for_another_user_without_email_gives_no_email():
    assert creation_owner(STAFF, OTHER_USER, None) == (OTHER_USER, None)


def test_staff_leaving_out_user_id_creates_for_themselves_with_their_email():
    assert creation_owner(STAFF, None, None) == (9, 'staff@example.com')


def test_staff_without_own_user_id_must_name_the_user():
    with pytest.raises(InvalidInput) as raised:
        creation_owner(STAFF_NO_USER, None, None)

    assert 'user_id' in raised.value.errors


def test_service_may_not_create():
    with pytest.raises(Forbidden):
        creation_owner(SERVICE, OTHER_USER, None)


# -- read ---------------------------------------------------------------


def test_customer_reads_their_own_order():
    assert check_can_read(ADA, 1) is None


def test_customer_reading_another_users_order_is_not_found():
    with pytest.raises(OrderNotFound) as raised:
        check_can_read(ADA, OTHER_USER)

    assert str(raised.value) == str(OrderNotFound())  # exactly as if it did not exist


@pytest.mark.parametrize('principal', [STAFF, STAFF_NO_USER, SERVICE], ids=lambda p: p.sub)
def test_staff_and_service_read_any_order(principal):
    assert check_can_read(principal, OTHER_USER) is None


# -- list ---------------------------------------------------------------


def test_customer_list_without_filter_is_scoped_to_themselves():
    assert scope_for_list(ADA, None) == 1


def test_customer_list_filtered_on_themselves_is_theirs():
    assert scope_for_list(ADA, 1) == 1


def test_customer_list_of_another_user_is_forbidden():
    with pytest.raises(Forbidden):
        scope_for_list(ADA, OTHER_USER)


@pytest.mark.parametrize('principal', [STAFF, SERVICE], ids=lambda p: p.sub)
def test_staff_and_service_list_every_order_without_a_filter(principal):
    assert scope_for_list(principal, None) is None


@pytest.mark.parametrize('principal', [STAFF, SERVICE], ids=lambda p: p.sub)
def test_staff_and_service_list_any_users_orders(principal):
    assert scope_for_list(principal, OTHER_USER) == OTHER_USER


# -- status -------------------------------------------------------------


def test_customer_may_cancel_their_own_order():
    assert check_status_change(ADA, 1, 'pending', 'cancelled') is None


@pytest.mark.parametrize('status', sorted(set(STATUSES) - {'cancelled'}))
def test_customer_setting_any_other_status_is_forbidden(status):
    with pytest.raises(Forbidden):
        check_status_change(ADA, 1, 'pending', status)


@pytest.mark.parametrize('status', STATUSES)
def test_customer_changing_another_users_order_is_not_found(status):
    with pytest.raises(OrderNotFound):
        check_status_change(ADA, OTHER_USER, 'pending', status)


@pytest.mark.parametrize('current', STATUSES)
@pytest.mark.parametrize('status', STATUSES)
def test_staff_may_set_any_status(current, status):
    assert check_status_change(STAFF, OTHER_USER, current, status) is None


@pytest.mark.parametrize(
    ('current', 'status'),
    [
        (current, status)
        for current in STATUSES
        for status in STATUSES
        if status != 'paid' and not (current == 'paid' and status == 'cancelled')
    ],
)
def test_service_may_set_any_status_that_moves_no_money(current, status):
    assert check_status_change(SERVICE, OTHER_USER, current, status) is None


@pytest.mark.parametrize(
    ('current', 'status'),
    [('pending', 'paid'), ('paid', 'paid'), ('shipped', 'paid'), ('paid', 'cancelled')],
)
def test_service_setting_paid_or_cancelling_a_paid_order_is_forbidden(current, status):
    """Money in (an order marked paid with no payment) and money out (a paid
    order's cancellation refunds it) are staff's."""
    with pytest.raises(Forbidden):
        check_status_change(SERVICE, OTHER_USER, current, status)


# -- delete -------------------------------------------------------------


def test_customer_deleting_their_own_order_is_forbidden():
    with pytest.raises(Forbidden):
        check_delete(ADA, 1)


def test_customer_deleting_another_users_order_is_not_found():
    with pytest.raises(OrderNotFound):
        check_delete(ADA, OTHER_USER)


def test_staff_may_delete_any_order():
    assert check_delete(STAFF, OTHER_USER) is None


def test_service_may_not_delete():
    with pytest.raises(Forbidden):
        check_delete(SERVICE, OTHER_USER)


# -- the catalog ---------------------------------------------------------


SYSTEM = Principal('orders-service', 'system')


@pytest.mark.parametrize('principal', [ADA, STAFF, SERVICE])
def test_customers_staff_and_services_read_the_catalog(principal):
    catalog_access.check_can_read(principal)


def test_the_system_principal_reads_no_catalog():
    with pytest.raises(Forbidden):
        catalog_access.check_can_read(SYSTEM)


def test_only_staff_write_the_catalog():
    catalog_access.check_can_write(STAFF)
    for principal in (ADA, SERVICE, SYSTEM):
        with pytest.raises(Forbidden):
            catalog_access.check_can_write(principal)


def test_a_retired_product_does_not_exist_for_a_customer_only():
    assert catalog_access.may_see(ADA, active=True)
    assert not catalog_access.may_see(ADA, active=False)
    assert catalog_access.may_see(STAFF, active=False)
    assert catalog_access.may_see(SERVICE, active=False)


def test_only_a_customer_sees_stock_as_available_alone():
    assert not catalog_access.sees_whole_stock(ADA)
    assert catalog_access.sees_whole_stock(STAFF)
    assert catalog_access.sees_whole_stock(SERVICE)


@pytest.mark.parametrize('asked', [None, True])
def test_a_customer_list_holds_active_products_only(asked):
    assert catalog_access.scope_for_list(ADA, asked) is True


def test_a_customer_asking_for_retired_products_is_forbidden():
    with pytest.raises(Forbidden):
        catalog_access.scope_for_list(ADA, False)


@pytest.mark.parametrize('asked', [None, True, False])
def test_staff_and_services_list_what_they_ask_for(asked):
    assert catalog_access.scope_for_list(STAFF, asked) is asked
    assert catalog_access.scope_for_list(SERVICE, asked) is asked


# -- payments and refunds --------------------------------------------------


@pytest.mark.parametrize('principal', [ADA, STAFF])
def test_the_customer_and_staff_start_a_payment(principal):
    payment_access.check_can_pay(principal)


@pytest.mark.parametrize('principal', [SERVICE, SYSTEM])
def test_services_and_the_system_start_no_payment(principal):
    with pytest.raises(Forbidden):
        payment_access.check_can_pay(principal)


def test_only_staff_ask_for_refunds():
    payment_access.check_can_refund(STAFF)
    for principal in (ADA, SERVICE, SYSTEM):
        with pytest.raises(Forbidden):
            payment_access.check_can_refund(principal)
