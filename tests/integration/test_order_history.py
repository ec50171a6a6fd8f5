"""GET /orders/{id}/history: one entry per version, written with the change,
oldest first, under the order's access rules; on SQLite and MariaDB."""

import re

import pytest

from chalicelib.storage.models import OrderHistory
from tests.support import bearer, changed, create_order, json_of, send

ISO_Z = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z')
ADA, BOB = 1, 2


@pytest.fixture
def callers(issuer):
    class Callers:
        ada = bearer(issuer.mint(user_id=ADA, email='ada@example.com'))
        bob = bearer(issuer.mint(user_id=BOB, email='bob@example.com'))
        staff = bearer(issuer.mint(role='staff'))
        service = bearer(issuer.mint(role='service'))
        subs = {
            name: issuer.claims(**kwargs)['sub']
            for name, kwargs in (
                ('ada', {'user_id': ADA}),
                ('staff', {'role': 'staff'}),
                ('service', {'role': 'service'}),
            )
        }

    return Callers


def history(client, order_id, headers=None):
    return send(client, 'GET', f'/orders/{order_id}/history', headers=headers)


def test_history_lists_every_change_oldest_first_with_who_made_it(client, callers):
    order = create_order(client, user_id=ADA, headers=callers.staff)
    oid = order['order_id']
    # Setting paid is staff's (the service moves no money).
    paid = changed(client, oid, {'status': 'paid'}, callers.staff)
    changed(client, oid, {'status': 'cancelled', 'reason': 'Found it cheaper'}, callers.ada)

    response = history(client, oid, callers.staff)

    assert response.status_code == 200
    entries = json_of(response)
    assert [(e['version'], e['status']) for e in entries] == [
        (1, 'pending'),
        (2, 'paid'),
        (3, 'cancelled'),
    ]
    assert [e['by'] for e in entries] == [
        {'role': 'staff', 'sub': callers.subs['staff']},
        {'role': 'staff', 'sub': callers.subs['staff']},
        {'role': 'customer', 'sub': callers.subs['ada']},
    ]
    assert entries[0]['at'] == order['created_at']
    assert entries[1]['at'] == paid['updated_at']
    assert all(ISO_Z.fullmatch(e['at']) for e in entries)
    assert entries[2]['reason'] == 'Found it cheaper'
    assert 'reason' not in entries[0] and 'reason' not in entries[1]
    assert all(set(e) <= {'version', 'status', 'at', 'by', 'reason'} for e in entries)


def test_history_of_a_new_order_is_its_creation(client):
    order = create_order(client)

    [entry] = json_of(history(client, order['order_id']))

    assert (entry['version'], entry['status'], entry['at']) == (1, 'pending', order['created_at'])


def test_history_ends_at_the_version_the_order_is_at(client, callers):
    order = create_order(client)
    oid = order['order_id']
    for status in ('shipped', 'delivered'):
        current = changed(client, oid, {'status': status}, callers.staff)

    entries = json_of(history(client, oid))

    assert [e['version'] for e in entries] == list(range(1, current['version'] + 1))
    assert entries[-1]['status'] == current['status']
    assert entries[-1]['at'] == current['updated_at']


def test_a_no_op_and_a_refused_change_write_no_entry(client, callers):
    order = create_order(client)
    oid = order['order_id']
    changed(client, oid, {'status': 'pending'}, callers.staff)
    assert send(client, 'PUT', f'/orders/{oid}', {'status': 'delivered'}).status_code == 409
    assert (
        send(client, 'PUT', f'/orders/{oid}', {'status': 'paid'}, {'If-Match': '"7"'}).status_code
        == 412
    )

    assert len(json_of(history(client, oid))) == 1


@pytest.mark.parametrize('reader', ['ada', 'service'])
def test_only_staff_see_which_account_made_a_change_others_see_its_role(client, callers, reader):
    oid = create_order(client, user_id=ADA, headers=callers.staff)['order_id']
    changed(client, oid, {'status': 'shipped'}, callers.service)
    changed(client, oid, {'status': 'delivered'}, callers.staff)

    entries = json_of(history(client, oid, getattr(callers, reader)))

    assert [e['by'] for e in entries] == [{'role': 'staff'}, {'role': 'service'}, {'role': 'staff'}]


def test_a_customer_reads_the_history_of_their_own_orders_only(client, callers):
    ada_order = create_order(client, user_id=ADA, headers=callers.staff)['order_id']
    bob_order = create_order(client, user_id=BOB, headers=callers.staff)['order_id']

    assert history(client, ada_order, callers.ada).status_code == 200
    other = history(client, bob_order, callers.ada)

    assert other.status_code == 404
    assert json_of(other) == json_of(history(client, 10**12, callers.ada))
    assert json_of(other)['Code'] == 'NotFoundError'


def test_service_and_staff_read_any_history(client, callers):
    order = create_order(client, user_id=BOB, headers=callers.staff)['order_id']

    for caller in (callers.service, callers.staff):
        assert history(client, order, caller).status_code == 200


def test_history_needs_a_token(client):
    order = create_order(client)['order_id']

    response = history(client, order, {'Authorization': None})

    assert response.status_code == 401 and json_of(response)['Code'] == 'UnauthorizedError'


@pytest.mark.parametrize('order_id', ['0', '-1', 'abc', str(2**63)])
def test_history_of_a_bad_id_is_400(client, order_id):
    response = history(client, order_id)

    assert response.status_code == 400
    assert list(json_of(response)['errors']) == ['order_id']


def test_a_deleted_order_takes_its_history_with_it(client):
    order = create_order(client)['order_id']
    kept = create_order(client)['order_id']
    assert send(client, 'DELETE', f'/orders/{order}').status_code == 204

    assert history(client, order).status_code == 404
    assert OrderHistory.select().where(OrderHistory.order == order).count() == 0
    assert OrderHistory.select().where(OrderHistory.order == kept).count() == 1
