"""storage/model_rows.py leans on three Peewee internals (`__no_default__`,
`_dirty`, `__data__`) and on `_meta.sorted_fields`: these tests fail loudly
the day a Peewee release changes any of them."""

from datetime import datetime
from decimal import Decimal

import peewee

from chalicelib.storage import model_rows
from chalicelib.storage.models import Order, OrderItem


def test_peewee_still_has_the_internals_the_adapter_uses():
    order = Order(user_id=1)

    assert isinstance(order.__data__, dict)
    assert isinstance(order._dirty, set)
    assert [field.name for field in Order._meta.sorted_fields][:2] == ['order_id', 'user_id']


def test_a_row_read_back_fills_in_no_default():
    order = model_rows.from_row(Order, {'order_id': 5, 'user_id': 7})

    # status and version have defaults ('pending', 1): a row that lacks them keeps lacking them.
    assert order.__data__ == {'order_id': 5, 'user_id': 7}
    assert order.status is None and order.version is None


def test_a_row_read_back_has_no_dirty_field():
    order = model_rows.from_row(Order, {'order_id': 5, 'status': 'paid'})

    assert order.dirty_fields == []
    assert not order.is_dirty()


def test_values_of_an_instance_are_its_fields_by_name_defaults_included():
    order = Order(user_id=7, order_total=Decimal('1.50'), created_at=datetime(2026, 1, 1))

    values = model_rows.values_of(order)

    assert values == {
        'user_id': 7,
        'order_total': Decimal('1.50'),
        'created_at': datetime(2026, 1, 1),
        'status': 'pending',
        'version': 1,
        'amount_paid': Decimal('0.00'),
        'amount_refunded': Decimal('0.00'),
        'discount_total': Decimal('0.00'),
        'shipping_total': Decimal('0.00'),
        'tax_total': Decimal('0.00'),
        'prices_include_tax': False,
        'shipping_amount': Decimal('0.00'),
        'shipping_tax': Decimal('0.00'),
        'shipping_waived': Decimal('0.00'),
    }
    values['user_id'] = 8
    assert order.user_id == 7  # a copy


def test_column_list_follows_the_declared_fields_with_an_optional_alias():
    assert model_rows.column_list(OrderItem) == (
        'order_item_id, order_id, product_id, quantity, price_at_order, sku, name, holds_stock, '
        'discount, tax, tax_rate, tax_class'
    )
    assert model_rows.column_list(OrderItem, 'i').startswith('i.order_item_id, i.order_id, ')


def test_a_foreign_key_is_listed_by_its_column_name():
    assert isinstance(OrderItem.order, peewee.ForeignKeyField)
    assert 'order_id' in model_rows.column_list(OrderItem).split(', ')
