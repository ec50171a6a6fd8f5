"""Housekeeping, on SQLite and MariaDB, with a fixed clock: exactly the rows
past their time go, in bounded batches, and the orders are never touched."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.core.clock import utcnow
from chalicelib.identity.principal import STAFF, Principal
from chalicelib.orders.commands import NewOrder, NewOrderItem
from chalicelib.orders.idempotency import KEY_TTL
from chalicelib.orders.service import OrderService
from chalicelib.storage import connection, retention
from chalicelib.storage.models import (
    IdempotencyKey,
    Order,
    OrderItem,
    Outbox,
    ProcessedEvent,
    StripeEvent,
)
from tests.support import LambdaContext, scheduled_event

STAFF_MEMBER = Principal(sub='staff-1', role=STAFF)
NOW = datetime(2026, 11, 25, 12, 0, 0, 123456)
RETENTION = timedelta(days=7)
OLD_EACH = 7


def key_rows(ages, prefix):
    for n, age in enumerate(ages):
        IdempotencyKey.create(
            key=f'{prefix}-{n}', request_hash='0' * 64, response_body='{}', created_at=NOW - age
        )


def processed_rows(ages):
    for age in ages:
        ProcessedEvent.create(event_id=str(uuid.uuid4()), processed_at=NOW - age)


def stripe_event_rows(ages):
    for age in ages:
        StripeEvent.create(
            event_id=f'evt_{uuid.uuid4().hex}', event_type='charge.refunded', processed_at=NOW - age
        )


def outbox_rows(ages, published=True):
    for age in ages:
        Outbox.create(
            event_id=str(uuid.uuid4()),
            event_type='order_created',
            order_id=1,
            subject='Order Created',
            body='{}',
            created_at=NOW - age - timedelta(1),
            published_at=NOW - age if published else None,
        )


@pytest.fixture
def aged_rows(database):
    """OLD_EACH rows past their time in each table; beside them rows just
    inside it (one exactly at the limit), a pending event far older than the
    retention, and an order."""
    key_rows([timedelta(hours=24, microseconds=1)] * OLD_EACH, 'old')
    key_rows([timedelta(hours=24), timedelta(hours=23)], 'fresh')
    processed_rows([timedelta(days=14, seconds=1)] * OLD_EACH)
    processed_rows([timedelta(days=14), timedelta(days=13)])
    stripe_event_rows([timedelta(days=14, seconds=1)] * OLD_EACH)
    stripe_event_rows([timedelta(days=14), timedelta(days=13)])
    outbox_rows([RETENTION + timedelta(minutes=1)] * OLD_EACH)
    outbox_rows([RETENTION, timedelta(days=6)])
    outbox_rows([timedelta(days=30)], published=False)
    OrderService(clock=lambda: NOW - timedelta(days=400)).create_order(
        STAFF_MEMBER,
        NewOrder(
            user_id=1,
            items=(NewOrderItem(product_id=1, quantity=1, price_at_order=Decimal(1)),),
        ),
    )
    return database


class Statements:
    """Every statement sent to the database, with the rows it changed."""

    def __init__(self, monkeypatch):
        self.sent = []
        db = connection.database.obj
        execute = db.execute_sql

        def recording(sql, params=None, *args, **kwargs):
            cursor = execute(sql, params, *args, **kwargs)
            self.sent.append((sql, cursor.rowcount))
            return cursor

        monkeypatch.setattr(db, 'execute_sql', recording)

    def deletes(self):
        return [(sql, rows) for sql, rows in self.sent if sql.startswith('DELETE')]


def clean_up(batch=retention.BATCH, time_left=lambda: 1.0):
    return retention.clean_up(RETENTION, KEY_TTL, time_left, clock=lambda: NOW, batch=batch)


def test_housekeeping_deletes_exactly_the_rows_past_their_time(aged_rows):
    deleted = clean_up()

    assert deleted == {
        'idempotency_keys': OLD_EACH,
        'processed_events': OLD_EACH,
        'stripe_events': OLD_EACH,
        'outbox': OLD_EACH,
    }
    assert sorted(key.key for key in IdempotencyKey.select()) == ['fresh-0', 'fresh-1']
    assert sorted(NOW - row.processed_at for row in ProcessedEvent.select()) == [
        timedelta(days=13),
        timedelta(days=14),
    ]
    assert sorted(NOW - row.processed_at for row in StripeEvent.select()) == [
        timedelta(days=13),
        timedelta(days=14),
    ]
    # The pending ones: the month-old event, and the order's own.
    assert sorted(
        (row.published_at is None, row.published_at and NOW - row.published_at)
        for row in Outbox.select()
    ) == [(False, timedelta(days=6)), (False, RETENTION), (True, None), (True, None)]
    assert Order.select().count() == 1 and OrderItem.select().count() == 1


def test_housekeeping_deletes_in_bounded_batches_and_never_touches_the_orders(
    aged_rows, monkeypatch
):
    statements = Statements(monkeypatch)

    clean_up(batch=3)

    deletes = statements.deletes()
    # 7 old rows a table, 3 a batch: 3 + 3 + 1.
    assert sorted(rows for _, rows in deletes) == [1, 1, 1, 1] + [3] * 8
    assert all('orders' not in sql and 'order_items' not in sql for sql, _ in statements.sent)


def test_housekeeping_stops_when_its_time_is_up_and_the_next_run_goes_on(aged_rows):
    budget = iter([1.0, 0.0])  # asked before every batch but the first

    first = clean_up(batch=3, time_left=lambda: next(budget))
    second = clean_up(batch=3)

    # One batch from each table in turn: the time ran out before the third.
    assert first == {'idempotency_keys': 3, 'processed_events': 3, 'stripe_events': 0, 'outbox': 0}
    assert second == {
        'idempotency_keys': 4,
        'processed_events': 4,
        'stripe_events': OLD_EACH,
        'outbox': OLD_EACH,
    }


def test_housekeeping_function_takes_its_time_from_the_lambda_context(database, app_module):
    now = utcnow()
    IdempotencyKey.create(
        key='old', request_hash='0' * 64, response_body='{}', created_at=now - timedelta(days=30)
    )
    IdempotencyKey.create(
        key='fresh',
        request_hash='0' * 64,
        response_body='{}',
        created_at=now - timedelta(minutes=1),
    )
    event = scheduled_event()

    # Less time left than the 10 s margin: the margin shrinks to half of it,
    # and the first batch goes anyway.
    answer = app_module.housekeeping(event, lambda_context(remaining_ms=1_000))

    assert answer['deleted'] == {
        'idempotency_keys': 1,
        'processed_events': 0,
        'stripe_events': 0,
        'outbox': 0,
    }
    assert [key.key for key in IdempotencyKey.select()] == ['fresh']


def test_housekeeping_does_a_first_batch_even_with_no_time_left(aged_rows):
    first = clean_up(batch=3, time_left=lambda: -1.0)

    assert first == {'idempotency_keys': 3, 'processed_events': 0, 'stripe_events': 0, 'outbox': 0}


def test_housekeeping_through_the_chalice_test_client_deletes_what_is_old(database, app_module):
    from chalice.test import Client

    IdempotencyKey.create(
        key='old',
        request_hash='0' * 64,
        response_body='{}',
        created_at=utcnow() - timedelta(days=30),
    )

    with Client(app_module.app, stage_name='local') as client:
        answer = client.lambda_.invoke('housekeeping', scheduled_event()).payload

    assert answer['deleted']['idempotency_keys'] == 1
    assert IdempotencyKey.select().count() == 0


def lambda_context(remaining_ms):
    return LambdaContext(remaining_ms)
