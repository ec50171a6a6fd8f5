"""The request paths' SQL (storage/statements.py) binds values by name: the
order in which the models declare their fields cannot move a value into
another column. On SQLite and MariaDB."""

from decimal import Decimal

import pytest

from chalicelib.identity.principal import STAFF, Principal
from chalicelib.orders import counts
from chalicelib.orders.commands import NewOrder, NewOrderItem, OrderUpdate
from chalicelib.orders.service import OrderService
from chalicelib.storage.migrations import upgrade
from chalicelib.storage.models import MODELS, SchemaVersion


@pytest.fixture
def reversed_models(database, monkeypatch):
    """Every model's fields in the opposite order, tables rebuilt that way."""
    database.drop_tables(MODELS)
    for model in MODELS:
        monkeypatch.setattr(model._meta, 'sorted_fields', list(reversed(model._meta.sorted_fields)))
    database.create_tables(MODELS)
    yield database
    monkeypatch.undo()
    # Back to the migrated schema, from scratch.
    database.drop_tables([*MODELS, SchemaVersion])
    upgrade(counts.recount)


def columns_of(database, table):
    return [
        column[0]
        for column in database.execute_sql(f'SELECT * FROM {table} WHERE 1 = 0').description
    ]


def test_values_reach_their_own_columns_whatever_the_field_order(reversed_models):
    database = reversed_models
    assert columns_of(database, 'orders')[-1] == 'order_id'  # the tables really are reversed
    service = OrderService()
    staff = Principal(sub='staff-1', role=STAFF)
    created = service.create_order(
        staff,
        NewOrder(
            user_id=7,
            user_email='ada@example.com',
            items=(
                NewOrderItem(product_id=11, quantity=3, price_at_order=Decimal('2.50')),
                NewOrderItem(product_id=12, quantity=1, price_at_order=Decimal('0.10')),
            ),
        ),
    ).body
    order_id = created['order_id']

    changed = service.update_status(staff, order_id, OrderUpdate('paid'), expected_version=1)

    user_id, email, status, total, version = database.execute_sql(
        'SELECT user_id, user_email, status, order_total, version FROM orders'
    ).fetchone()
    assert (user_id, email, status, Decimal(str(total)), version) == (
        7,
        'ada@example.com',
        'paid',
        Decimal('7.60'),
        2,
    )
    items = database.execute_sql(
        'SELECT order_id, product_id, quantity, price_at_order FROM order_items '
        'ORDER BY order_item_id'
    ).fetchall()
    assert [(o, p, q, Decimal(str(price))) for o, p, q, price in items] == [
        (order_id, 11, 3, Decimal('2.50')),
        (order_id, 12, 1, Decimal('0.10')),
    ]
    events = database.execute_sql(
        'SELECT event_type, order_id, subject FROM outbox ORDER BY id'
    ).fetchall()
    assert [tuple(event) for event in events] == [
        ('order_created', order_id, 'Order Created'),
        ('order_updated', order_id, 'Order Updated'),
    ]
    assert changed == {
        **created,
        'status': 'paid',
        'version': 2,
        'updated_at': changed['updated_at'],
        'payment': {
            'status': 'paid',
            'amount_paid': 7.6,
            'amount_refunded': 0.0,
            'provider': None,
            'reference': None,
        },
    }
    assert service.get_order(staff, order_id) == changed


def test_shipment_and_history_reach_their_own_columns(reversed_models):
    database = reversed_models
    service = OrderService()
    staff = Principal(sub='staff-1', role=STAFF)
    order_id = service.create_order(
        staff,
        NewOrder(
            user_id=7,
            items=(NewOrderItem(product_id=11, quantity=1, price_at_order=Decimal('2.50')),),
        ),
    ).body['order_id']

    shipped = service.update_status(
        staff,
        order_id,
        OrderUpdate(
            'shipped',
            carrier='DHL',
            tracking_number='AB-1',
            tracking_url='https://track.example.com/AB-1',
        ),
    )

    row = database.execute_sql(
        'SELECT status, version, carrier, tracking_number, tracking_url FROM orders'
    ).fetchone()
    assert tuple(row) == ('shipped', 2, 'DHL', 'AB-1', 'https://track.example.com/AB-1')
    assert shipped['shipment']['carrier'] == 'DHL'
    history = database.execute_sql(
        'SELECT order_id, version, status, actor_role, actor_sub FROM order_history '
        'ORDER BY version'
    ).fetchall()
    assert [tuple(entry) for entry in history] == [
        (order_id, 1, 'pending', 'staff', 'staff-1'),
        (order_id, 2, 'shipped', 'staff', 'staff-1'),
    ]
