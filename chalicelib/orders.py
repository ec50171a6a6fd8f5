"""The order service: every use case, each in one transaction that also
writes the change's event to the outbox. Events are handed to `publish`
only after the commit."""
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

import peewee

from chalicelib import counts, domain, idempotency
from chalicelib.db import (CONNECTION_ERRORS, database, discard_connection,
                          execute_compiled, insert_rows, is_sqlite, run_compiled)
from chalicelib.errors import OrderNotFound, VersionMismatch
from chalicelib.events import record_event
from chalicelib.logs import log
from chalicelib.models import Order, OrderItem
from chalicelib.paging import decode_cursor, encode_cursor
from chalicelib.schemas import dump_order


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class Created:
    body: dict
    replayed: bool = False


def _no_publish(events):
    pass


class OrderService:
    def __init__(self, publish=_no_publish, clock=utcnow):
        self.publish = publish
        self.clock = clock

    # -- create ---------------------------------------------------------
    def create_order(self, data, idempotency_key=None, request_hash=None):
        log.info('Creating order for user_id=%s', data['user_id'])
        now = self.clock()
        if idempotency_key is not None:
            stored = idempotency.claim(idempotency_key, request_hash, now)
            if stored is not None:
                return Created(json.loads(stored), replayed=True)
        try:
            order, items, event = self._insert_order(data, now, idempotency_key)
        except Exception:
            if idempotency_key is not None:
                self._release_quietly(idempotency_key)
            raise
        log.info('Order created successfully: order_id=%s', order.order_id,
                 extra={'order_id': order.order_id})
        self.publish([event])
        return Created(dump_order(order, items))

    def _insert_order(self, data, now, idempotency_key):
        total = domain.order_total(data['items'])
        log.info('Order total calculated: %s', total)
        with database.atomic():
            order = Order(
                user_id=data['user_id'], user_email=data.get('user_email'),
                status='pending', order_total=total, created_at=now,
                updated_at=now, version=1)
            order.order_id = insert_rows(Order, [order.__data__])
            insert_rows(OrderItem, [
                {'order': order.order_id, 'product_id': item['product_id'],
                 'quantity': item['quantity'],
                 'price_at_order': item['price_at_order']}
                for item in data['items']])
            items = list(_items_of([order.order_id])[order.order_id])
            event = record_event(domain.ORDER_CREATED, order, now)
            counts.record_change(new_status='pending')
            if idempotency_key is not None:
                idempotency.complete(
                    idempotency_key,
                    json.dumps(dump_order(order, items), separators=(',', ':')))
        return order, items, event

    def _release_quietly(self, key):
        try:
            idempotency.release(key)
        except CONNECTION_ERRORS:
            # The database is gone; the claim lapses after its lease.
            discard_connection()

    # -- read -----------------------------------------------------------
    def get_order(self, order_id):
        order = next(iter(run_compiled(
            Order, 'order', lambda: Order.select().where(Order.order_id == order_id),
            [order_id])), None)
        if order is None:
            raise OrderNotFound()
        return dump_order(order, _items_of([order_id])[order_id])

    def list_orders(self, query, user_id=None):
        filters = {'status': query.get('status'),
                   'user_id': user_id if user_id is not None else query.get('user_id')}
        page_size = query['page_size']
        page = None
        after = None
        if 'cursor' in query:
            after, filters = decode_cursor(query['cursor'], filters)
        else:
            page = query.get('page', 1)
        rows = list(_page_of_orders(filters, after, page, page_size))
        orders = rows[:page_size]
        next_cursor = (encode_cursor(orders[-1].order_id, filters)
                       if len(rows) > page_size else None)
        items = _items_of([order.order_id for order in orders])
        return {
            'orders': [dump_order(order, items[order.order_id]) for order in orders],
            'total': _total(filters),
            'page': page,
            'page_size': page_size,
            'next_cursor': next_cursor,
        }

    # -- change ---------------------------------------------------------
    def update_status(self, order_id, new_status, expected_version=None):
        now = self.clock()
        with database.atomic():
            order = _locked_order(order_id)
            if expected_version is not None and order.version != expected_version:
                raise VersionMismatch(
                    f'Order {order_id} is at version {order.version}, '
                    f'not {expected_version}')
            if not domain.check_transition(order.status, new_status):
                return dump_order(order, _items_of([order_id])[order_id])
            params = [new_status, Order.updated_at.db_value(now), order.version + 1,
                      order_id, order.version]
            updated = execute_compiled('status change', lambda: (
                Order.update(status=new_status, version=order.version + 1, updated_at=now)
                .where((Order.order_id == order_id) & (Order.version == order.version))),
                params).rowcount
            if updated != 1:
                raise VersionMismatch(f'Order {order_id} changed meanwhile')
            old_status = order.status
            order.status, order.version, order.updated_at = \
                new_status, order.version + 1, now
            event = record_event(domain.event_type_for_status(new_status),
                                 order, now)
            items = _items_of([order_id])[order_id]
            counts.record_change(old_status=old_status, new_status=new_status)
        log.info('Order status updated: order_id=%s status=%s', order_id,
                 new_status, extra={'order_id': order_id})
        self.publish([event])
        return dump_order(order, items)

    def delete_order(self, order_id):
        now = self.clock()
        with database.atomic():
            order = _locked_order(order_id)
            Order.delete().where(Order.order_id == order_id).execute()
            event = record_event(domain.ORDER_DELETED, order, now)
            counts.record_change(old_status=order.status)
        log.info('Order deleted: order_id=%s', order_id,
                 extra={'order_id': order_id})
        self.publish([event])


def _locked_order(order_id):
    """The current row, locked until the transaction ends: FOR UPDATE on
    MariaDB; on SQLite the transaction already holds the write lock."""
    def build():
        query = Order.select().where(Order.order_id == order_id)
        return query if is_sqlite() else query.for_update()
    order = next(iter(run_compiled(Order, 'locked order', build, [order_id])), None)
    if order is None:
        raise OrderNotFound()
    return order


def _items_of(order_ids):
    items = defaultdict(list)
    if order_ids:
        query = run_compiled(
            OrderItem, ('items', len(order_ids)),
            lambda: (OrderItem.select().where(OrderItem.order.in_(order_ids))
                     .order_by(OrderItem.order_item_id)),
            order_ids)
        for item in query:
            items[item.order_id].append(item)
    return items


def _filter_condition(filters):
    """The WHERE of a filtered list, and its params in the order it uses them."""
    conditions, params = [], []
    for field, name in ((Order.status, 'status'), (Order.user_id, 'user_id')):
        if filters.get(name) is not None:
            conditions.append(field == filters[name])
            params.append(filters[name])
    return conditions, params


def _page_of_orders(filters, after, page, page_size):
    """One more row than the page holds, newest first: keyset after a cursor,
    offset for a page number."""
    conditions, params = _filter_condition(filters)
    if after is not None:
        conditions.append(Order.order_id < after)
        params.append(after)
    params.append(page_size + 1)
    if page is not None:
        params.append((page - 1) * page_size)

    def build():
        query = Order.select().order_by(Order.order_id.desc()).limit(page_size + 1)
        if conditions:
            query = query.where(*conditions)
        return query if page is None else query.offset((page - 1) * page_size)
    shape = ('page', tuple(sorted(name for name in filters if filters[name] is not None)),
             after is not None)
    return run_compiled(Order, shape, build, params)


def _total(filters):
    if filters.get('user_id') is None:
        return counts.total(filters.get('status'))
    # One user's orders are few and sit together in the user_id index.
    conditions, params = _filter_condition(filters)
    return Order.select(peewee.fn.COUNT(Order.order_id)).where(*conditions).scalar()
