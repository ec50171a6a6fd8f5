"""Unpaid orders expire (scheduled function expire_unpaid): pending orders
older than PAYMENT_WINDOW_SECONDS are cancelled by the system with the reason
`not paid in time`, their stock released and order_cancelled published; on
SQLite and MariaDB, through the Chalice test client (3 s left)."""

from datetime import timedelta

import pytest

from chalicelib.orders import expiry
from chalicelib.platform.config import get_settings
from chalicelib.storage.models import Outbox
from chalicelib.wiring import runtime
from tests.support import WINDOW, json_of, place, put_product, run_expiry, send


@pytest.fixture
def shop(client):
    put_product(client, 101, name='Blue mug', unit_price=5, currency='USD', stock={'on_hand': 10})


def status_of(client, order_id):
    return json_of(send(client, 'GET', f'/orders/{order_id}'))['status']


def test_a_pending_order_past_the_window_is_cancelled_as_not_paid_in_time(
    client, shop, service_clock
):
    old = place(client, quantity=3)
    service_clock.advance(WINDOW + timedelta(seconds=1))
    young = place(client)

    assert run_expiry(client) == {'expired': 1}

    assert (status_of(client, old), status_of(client, young)) == ('cancelled', 'pending')
    last = json_of(send(client, 'GET', f'/orders/{old}/history'))[-1]
    assert (last['by'], last['reason']) == (
        {'role': 'system', 'sub': 'expire_unpaid'},
        'not paid in time',
    )
    assert json_of(send(client, 'GET', '/products/101'))['stock']['reserved'] == 1
    cancelled = Outbox.get(Outbox.order_id == old, Outbox.event_type == 'order_cancelled')
    assert '"reason":"not paid in time"' in cancelled.body


def test_an_order_exactly_at_the_window_and_a_paid_one_stay(client, shop, service_clock):
    at_the_edge = place(client)
    paid = place(client)
    send(client, 'PUT', f'/orders/{paid}', {'status': 'paid'})
    service_clock.advance(WINDOW)

    assert run_expiry(client) == {'expired': 0}
    assert (status_of(client, at_the_edge), status_of(client, paid)) == ('pending', 'paid')


def test_an_order_paid_after_it_was_found_is_never_expired(client, shop, service_clock):
    order_id = place(client)
    service_clock.advance(WINDOW * 2)
    service = runtime.order_service()

    class PaidMeanwhile:
        """Pays the order between the candidates' read and the expiry's lock."""

        clock = service.clock

        def change_status(self, principal, order_id, request, still_applies=None):
            send(client, 'PUT', f'/orders/{order_id}', {'status': 'paid'})
            return service.change_status(principal, order_id, request, still_applies)

    assert expiry.expire_unpaid(PaidMeanwhile(), WINDOW, service.clock(), lambda: 60) == 0
    assert status_of(client, order_id) == 'paid'


def test_expiry_goes_on_batch_after_batch_within_its_three_seconds(
    client, shop, service_clock, monkeypatch
):
    monkeypatch.setattr(expiry, 'BATCH_ORDERS', 2)
    orders = [place(client) for _ in range(5)]
    service_clock.advance(WINDOW * 2)

    assert run_expiry(client) == {'expired': 5}
    assert {status_of(client, order_id) for order_id in orders} == {'cancelled'}


def test_with_no_time_left_one_bounded_batch_still_runs(client, shop, service_clock, monkeypatch):
    monkeypatch.setattr(expiry, 'BATCH_ORDERS', 2)
    for _ in range(5):
        place(client)
    service_clock.advance(WINDOW * 2)
    service = runtime.order_service()

    assert expiry.expire_unpaid(service, WINDOW, service.clock(), lambda: 0.0) == 2


def test_a_window_of_0_never_expires_anything(client, shop, service_clock, monkeypatch):
    order_id = place(client)
    service_clock.advance(timedelta(days=30))
    monkeypatch.setenv('PAYMENT_WINDOW_SECONDS', '0')
    get_settings.cache_clear()

    assert run_expiry(client) == {'expired': 0}
    assert status_of(client, order_id) == 'pending'
