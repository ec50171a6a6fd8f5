"""Per operation: the service as Lambda calls it, beside its floor.

The service: API Gateway REST (v1 proxy) events into `app.app(event, context)`,
SNS in moto (or the stub) with SNS_TOPIC_ARN set, so writes publish. The
floor: the statements of the domains' queries modules the service runs for
the operation, bound by chalicelib/storage/statements.py, executed on the
service's own driver connection (sqlite3 or PyMySQL) with no peewee, Chalice
or marshmallow in between. One call of each side first records its SQL, and the run stops
unless both ran the same texts; so it does on any unexpected answer or an
event left unpublished. The sides alternate in blocks of 50 requests, so a
drift of the machine weighs on both alike. bench/run.py runs this in a python
of its own per backend."""

import contextlib
import cProfile
import hashlib
import hmac
import json
import math
import os
import pstats
import random
import re
import sys
import time
import uuid
from collections import deque
from decimal import Decimal
from time import perf_counter_ns

from bench import preload
from bench.breakdown import Breakdown
from bench.invoke import REGION, BenchFailure, SnsStub, invocation
from chalicelib.catalog import queries as catalog_queries
from chalicelib.catalog import stock
from chalicelib.core.clock import utcnow
from chalicelib.core.money import ZERO
from chalicelib.events import queries as events_queries
from chalicelib.events.messages import SUBJECTS
from chalicelib.events.outbox import PUBLISH_LEASE
from chalicelib.orders import discounts, shipping_methods, tax_rates, totals
from chalicelib.orders import queries as orders_queries
from chalicelib.orders.counts import SHARDS
from chalicelib.orders.paging import CURSORS
from chalicelib.platform.config import stripe_namespace
from chalicelib.storage import connection, statements
from chalicelib.storage.models import (
    Discount,
    DiscountUse,
    Order,
    OrderHistory,
    OrderItem,
    Outbox,
    Product,
    ShippingMethod,
    StripeEvent,
    TaxRate,
)

BLOCK = 50
USERS = 100  # created orders cycle over users 1..100: every user's first page is full
PRICES = ('29.99', '9.50', '105.00', '0.99', '12.34', '49.99', '3.10')
# The size of the service's outbox body; what it says is the service's business.
EVENT_BODY = (
    '{"event_id":"%s","event_type":"%s","order_id":%d,"user_id":%d,'
    '"user_email":"%s","status":"%s","order_total":"%s","currency":"USD",'
    '"timestamp":"2026-12-01T10:00:00.000000Z"}'
)
# The bench's catalog: tracked products with stock that never runs out, ids
# apart from the 1..99,999 the staff-priced creates name (outside the catalog).
CATALOG_FIRST = 200_001
CATALOG_SIZE = 10
CATALOG_PRICE = Decimal('19.99')
# A full checkout: an address taxed at its zone, a shipping method charged and
# taxed, a percent code with a usage limit (counted under its row lock).
CHECKOUT_METHOD = 'bench'
CHECKOUT_PRICE = Decimal('4.99')
CHECKOUT_ZONE = 'US-IL'
CHECKOUT_RATE = Decimal('0.0625')
CHECKOUT_CODE = 'BENCH10'
CHECKOUT_PERCENT = Decimal(10)
CHECKOUT_ADDRESS = {
    'name': 'Ada Lovelace',
    'line1': '12 Main St',
    'city': 'Springfield',
    'region': 'IL',
    'postal_code': '62704',
    'country': 'US',
}
# As the order keeps it (orders/addresses.Address.to_json: every field, in order).
CHECKOUT_ADDRESS_TEXT = json.dumps(
    {
        'name': 'Ada Lovelace',
        'company': None,
        'line1': '12 Main St',
        'line2': None,
        'city': 'Springfield',
        'region': 'IL',
        'postal_code': '62704',
        'country': 'US',
        'phone': None,
    }
)
# An IN list expanded for n values (:ids_0, :ids_1 or %(ids_0)s, ...), read as for one.
IN_LIST = re.compile(r'((?::|%\()\w+?)_\d+(\)s|)(?:, \1_\d+\2)*')


class Floor:
    """Stands in for connection.database while a floor operation runs, with
    what statements.run and statements.insert use of it, on the bare driver's
    cursor: the service's own code binds and renders each statement, the
    driver executes it. Statement for statement what orders/service.py runs."""

    def __init__(self):
        self.proxy = connection.database
        self.obj = self.proxy.obj  # connection.is_sqlite() looks here
        self.sqlite = connection.is_sqlite()
        self.cur = self.proxy.connection().cursor()
        self.lock = orders_queries.ORDER_FOR_UPDATE
        self.product_lock = catalog_queries.PRODUCTS_FOR_UPDATE
        self.recorded = None

    def execute_sql(self, text, params=()):
        if self.recorded is not None:
            self.recorded.append(text)
        self.cur.execute(text, params)
        return self.cur

    def send_sql(self, text, params):
        """statements.send on MariaDB: sent, its answer read by the next statement."""
        if self.recorded is not None:
            self.recorded.append(text)
        connection.send_without_waiting(self.proxy.connection(), text, params)

    def last_insert_id(self, cursor):
        return cursor.lastrowid

    def runner(self, operation):
        def run(args):
            connection.database = self
            try:
                return operation(*args)
            finally:
                connection.database = self.proxy

        return run

    def scalar(self, sql):
        self.cur.execute(sql)
        return self.cur.fetchone()[0]

    def _write(self, work):
        """work() in a transaction, then its outbox row marked published as
        the service marks it (sent, not waited for, on MariaDB)."""
        now = utcnow()
        self.cur.execute('BEGIN IMMEDIATE' if self.sqlite else 'BEGIN')
        result, outbox_id = work(now)
        self.cur.execute('COMMIT')
        statements.send(
            events_queries.MARK_PUBLISHED,
            published_at=now,
            id=outbox_id,
            sns_message_id='00000000-0000-4000-8000-000000000000',
        )
        return result

    def _outbox(self, event_type, now, order_id, user_id, email, status, total):
        event_id = str(uuid.uuid4())
        return statements.insert(
            Outbox,
            [
                {  # keys in the service's order: the same SQL
                    'event_id': event_id,
                    'event_type': event_type,
                    'order_id': order_id,
                    'subject': SUBJECTS[event_type],
                    'body': EVENT_BODY
                    % (event_id, event_type, order_id, user_id, email, status, total),
                    'created_at': now,
                    'relay_after': now + PUBLISH_LEASE,
                }
            ],
        )

    def _history(self, order_id, version, status, now):
        statements.insert(
            OrderHistory,
            [
                {
                    'order': order_id,
                    'version': version,
                    'status': status,
                    'at': now,
                    'actor_role': 'staff',
                    'actor_sub': 'dev-staff-0',
                    'reason': None,
                }
            ],
        )

    def _locked(self, order_id):
        cursor = statements.run(self.lock, order_id=order_id)
        row = dict(
            zip((column[0] for column in cursor.description), cursor.fetchone(), strict=True)
        )
        return (
            row['user_id'],
            row['user_email'],
            row['status'],
            row['order_total'],
            row['version'],
        )

    def _items(self, order_ids):
        return statements.run(orders_queries.ITEMS_OF, order_ids=order_ids).fetchall()

    def health(self):
        return self.execute_sql('SELECT 1').fetchall()

    def create(self, user_id, email, items, total, shard):
        """items: (product_id, quantity, price); a price None is the
        catalog's, and the line reserves (every bench product is tracked)."""

        def work(now):
            catalog = {
                row[0]: row
                for row in statements.run(
                    catalog_queries.PRODUCTS_IN, product_ids=sorted({p for p, _, _ in items})
                ).fetchall()
            }
            lines = [
                (
                    product,
                    quantity,
                    price if price is not None else catalog[product][3],
                    price is None,
                )
                for product, quantity, price in items
            ]
            order_id = statements.insert(
                Order,
                [
                    {
                        'status': 'pending',
                        'version': 1,
                        'amount_paid': ZERO,
                        'amount_refunded': ZERO,
                        # No discount, shipping or tax: the total is the subtotal.
                        'discount_total': ZERO,
                        'shipping_total': ZERO,
                        'tax_total': ZERO,
                        'prices_include_tax': False,
                        'shipping_amount': ZERO,
                        'shipping_tax': ZERO,
                        'shipping_waived': ZERO,
                        'user_id': user_id,
                        'user_email': email,
                        'order_total': total,
                        'subtotal': total,
                        'shipping_address': None,
                        'billing_address': None,
                        'shipping_method': None,
                        'shipping_name': None,
                        'discount_code': None,
                        'discount_type': None,
                        'discount_value': None,
                        'created_at': now,
                        'updated_at': now,
                        'currency': 'USD',
                    }
                ],
            )
            statements.insert(
                OrderItem,
                [
                    {
                        'order': order_id,
                        'product_id': product,
                        'quantity': quantity,
                        'price_at_order': price,
                        'sku': catalog[product][1] if product in catalog else None,
                        'name': catalog[product][2] if product in catalog else None,
                        'holds_stock': reserves,
                        'discount': ZERO,
                        'tax': ZERO,
                        'tax_rate': Decimal('0'),
                        'tax_class': 'standard',
                    }
                    for product, quantity, price, reserves in lines
                ],
            )
            self._items([order_id])
            self._history(order_id, 1, 'pending', now)
            outbox_id = self._outbox(
                'order_created', now, order_id, user_id, email, 'pending', total
            )
            statements.run(orders_queries.COUNT_ENTER, shard=shard, status='pending')
            reserved = {}
            for product, quantity, _, reserves in lines:
                if reserves:
                    reserved[product] = reserved.get(product, 0) + quantity
            if reserved:
                statements.run(self.product_lock, product_ids=sorted(reserved)).fetchall()
                stock.move_stock('reserve', reserved)
            return order_id, outbox_id

        return self._write(work)

    def _checkout_reads(self, product_ids):
        """What pricing a checkout reads, in the service's order: the
        catalog's rows, the method, the code, the destination's zones."""
        catalog = {
            row[0]: row
            for row in statements.run(
                catalog_queries.PRODUCTS_IN, product_ids=sorted(set(product_ids))
            ).fetchall()
        }
        statements.run(shipping_methods.METHOD, code=CHECKOUT_METHOD).fetchall()
        statements.run(discounts.CODE, code=CHECKOUT_CODE).fetchall()
        statements.run(tax_rates.ZONES_IN, zones=[CHECKOUT_ZONE, 'US']).fetchall()
        return catalog

    def quote(self, product_ids):
        """Statement for statement what a quote runs: pricing's reads, no
        transaction, nothing written."""
        return self._checkout_reads(product_ids)

    def checkout(self, user_id, email, product_ids, computed, shard):
        """A create with an address, a shipping method, tax and a code:
        create's statements, pricing's reads, then the code's use counted
        under its row lock after the product rows. `computed`: the
        order's totals (orders/totals.py), worked out beforehand."""

        def work(now):
            catalog = self._checkout_reads(product_ids)
            order_id = statements.insert(
                Order,
                [
                    {
                        'status': 'pending',
                        'version': 1,
                        'amount_paid': ZERO,
                        'amount_refunded': ZERO,
                        'discount_total': computed.discount_total,
                        'shipping_total': computed.shipping_total,
                        'tax_total': computed.tax_total,
                        'prices_include_tax': False,
                        'shipping_amount': computed.shipping.amount,
                        'shipping_tax': computed.shipping.tax,
                        'shipping_waived': computed.shipping.waived,
                        'user_id': user_id,
                        'user_email': email,
                        'order_total': computed.order_total,
                        'subtotal': computed.subtotal,
                        'shipping_address': CHECKOUT_ADDRESS_TEXT,
                        'billing_address': None,
                        'shipping_method': CHECKOUT_METHOD,
                        'shipping_name': 'Bench, 3-5 days',
                        'discount_code': CHECKOUT_CODE,
                        'discount_type': 'percent',
                        'discount_value': CHECKOUT_PERCENT,
                        'created_at': now,
                        'updated_at': now,
                        'currency': 'USD',
                    }
                ],
            )
            statements.insert(
                OrderItem,
                [
                    {
                        'order': order_id,
                        'product_id': product,
                        'quantity': 1,
                        'price_at_order': catalog[product][3],
                        'sku': catalog[product][1],
                        'name': catalog[product][2],
                        'holds_stock': True,
                        'discount': line.discount,
                        'tax': line.tax,
                        'tax_rate': line.tax_rate,
                        'tax_class': 'standard',
                    }
                    for product, line in zip(product_ids, computed.lines, strict=True)
                ],
            )
            self._items([order_id])
            self._history(order_id, 1, 'pending', now)
            outbox_id = self._outbox(
                'order_created', now, order_id, user_id, email, 'pending', computed.order_total
            )
            statements.run(orders_queries.COUNT_ENTER, shard=shard, status='pending')
            reserved = {product: 1 for product in product_ids}
            statements.run(self.product_lock, product_ids=sorted(reserved)).fetchall()
            stock.move_stock('reserve', reserved)
            statements.run(discounts.CODE_FOR_UPDATE, code=CHECKOUT_CODE).fetchall()
            statements.run(discounts.TAKE, code=CHECKOUT_CODE)
            statements.insert(
                DiscountUse, [{'order_id': order_id, 'code': CHECKOUT_CODE, 'user_id': user_id}]
            )
            return order_id, outbox_id

        return self._write(work)

    def product(self, product_id):
        return statements.run(catalog_queries.PRODUCTS_IN, product_ids=[product_id]).fetchall()

    def get(self, order_id):
        row = statements.run(orders_queries.ORDER, order_id=order_id).fetchone()
        if row is None:
            raise BenchFailure(f'floor: no order {order_id}')
        return row, self._items([order_id])

    def page(self, user_id=None, after=None):
        values = {
            name: value
            for name, value in (('limit', 11), ('user_id', user_id), ('after', after))
            if value is not None
        }
        rows = statements.run(
            orders_queries.ORDER_PAGES.statement(
                ('user_id',) if user_id is not None else (), after=after is not None, offset=False
            ),
            **values,
        ).fetchall()[:10]
        items = self._items([row[0] for row in rows]) if rows else []
        if user_id is None:
            return rows, items, statements.scalar(orders_queries.COUNT_TOTAL)
        return rows, items, statements.scalar(orders_queries.COUNT_USER_ORDERS, user_id=user_id)

    def update(self, order_id, new_status, shard):
        def work(now):
            user_id, email, status, total, version = self._locked(order_id)
            self._items([order_id])
            # A PUT to paid records a payment of the total taken outside.
            if (
                statements.run(
                    orders_queries.CHANGE_PAYMENT,
                    status=new_status,
                    updated_at=now,
                    amount_paid=total,
                    amount_refunded=Decimal('0.00'),
                    payment_provider=None,
                    payment_reference=None,
                    order_id=order_id,
                    version=version,
                ).rowcount
                != 1
            ):
                raise BenchFailure(f'floor: order {order_id} changed meanwhile')
            self._history(order_id, version + 1, new_status, now)
            statements.run(
                orders_queries.COUNT_MOVE, shard=shard, old_status=status, new_status=new_status
            )
            outbox_id = self._outbox(
                'order_updated', now, order_id, user_id, email, new_status, total
            )
            return None, outbox_id

        return self._write(work)

    def webhook(self, order_id, event_id, intent_id, shard):
        """Statement for statement what payments/service.py runs for a
        payment_intent.succeeded that pays a pending order."""

        def work(now):
            statements.insert(
                StripeEvent,
                [
                    {
                        'event_id': event_id,
                        'event_type': 'payment_intent.succeeded',
                        'processed_at': now,
                    }
                ],
            )
            user_id, email, status, total, version = self._locked(order_id)
            if (
                statements.run(
                    orders_queries.CHANGE_PAYMENT,
                    status='paid',
                    updated_at=now,
                    amount_paid=total,
                    amount_refunded=Decimal('0.00'),
                    payment_provider='stripe',
                    payment_reference=intent_id,
                    order_id=order_id,
                    version=version,
                ).rowcount
                != 1
            ):
                raise BenchFailure(f'floor: order {order_id} changed meanwhile')
            self._history(order_id, version + 1, 'paid', now)
            statements.run(
                orders_queries.COUNT_MOVE, shard=shard, old_status=status, new_status='paid'
            )
            outbox_id = self._outbox('order_updated', now, order_id, user_id, email, 'paid', total)
            return None, outbox_id

        return self._write(work)

    def delete(self, order_id, shard):
        def work(now):
            user_id, email, status, total, _ = self._locked(order_id)
            self._items([order_id])
            # No refund on its way back (a deletion would take its row).
            statements.scalar(orders_queries.REFUNDS_IN_FLIGHT, order_id=order_id)
            statements.run(orders_queries.DELETE_ORDER, order_id=order_id)
            outbox_id = self._outbox('order_deleted', now, order_id, user_id, email, status, total)
            statements.run(orders_queries.COUNT_LEAVE, shard=shard, status=status)
            statements.run(orders_queries.FORGET_KEYS_OF_ORDER, order_id=order_id)
            return None, outbox_id

        return self._write(work)


class Side:
    """One side of an operation: makes its arguments, calls (timed), checks."""

    def __init__(self, make_args, run, check):
        self.make_args, self.run, self.check = make_args, run, check
        self.ns = []

    # Seconds, untimed, after each call (--pause): a Lambda copy's requests
    # come apart, and what a request left to the server (the mark sent
    # without waiting) is done by the next one.
    pause = 0.0

    def block(self, count):
        for _ in range(count):
            args = self.make_args()
            started = perf_counter_ns()
            result = self.run(args)
            self.ns.append(perf_counter_ns() - started)
            self.check(args, result)
            if self.pause:
                time.sleep(self.pause)

    def summary(self):
        """p50, p99 (nearest rank, ms); ops/s of one process serving one request at a time."""
        ordered = sorted(self.ns)
        at = lambda q: ordered[max(1, math.ceil(q * len(ordered))) - 1] / 1e6  # noqa: E731
        return {'p50': at(0.50), 'p99': at(0.99), 'ops': len(ordered) / (sum(ordered) / 1e9)}


def move(source, target):
    order_id = source.popleft()
    target.append(order_id)
    return order_id


class Bench:
    def __init__(self, handler, floor, requests, warmup, preloaded, profile, breakdown):
        self.handler, self.floor = handler, floor
        self.requests, self.warmup, self.profile = requests, warmup, profile
        self.breakdown = breakdown  # requests per operation with the breakdown's timers
        self.preloaded = preloaded  # (first, last) order id, or None
        self.rng, self.frng = random.Random(1), random.Random(2)
        self.next_user = 0
        self.next_event = self.next_floor_event = 0

    def expect(self, status, orders=None, keep=None):
        def check(invocation_, response):
            event = invocation_[0]
            if response['statusCode'] != status:
                raise BenchFailure(
                    f'{event["httpMethod"]} {event["path"]} -> '
                    f'{response["statusCode"]} {str(response["body"])[:300]}'
                )
            if orders is not None and len(json.loads(response['body'])['orders']) != orders:
                raise BenchFailure(f'{event["path"]}: not {orders} orders')
            if keep is not None:
                keep.append(int(response['headers']['Location'].rsplit('/', 1)[1]))

        return check

    def measure(
        self, name, label, event, status, floor_args, floor_op, orders=None, keep=(None, None)
    ):
        service = Side(event, lambda inv: self.handler(*inv), self.expect(status, orders, keep[0]))
        floor = Side(
            floor_args,
            self.floor.runner(floor_op),
            lambda args, result: keep[1] is not None and keep[1].append(result),
        )
        service_sql, floor_sql = self.sql_of(service), self.sql_of(floor)
        if service_sql != floor_sql:
            raise BenchFailure(
                f'{name}: the floor ran other SQL than the service:\n  '
                + '\n  '.join(service_sql)
                + '\nfloor:\n  '
                + '\n  '.join(floor_sql)
            )
        for side in (service, floor):
            side.block(self.warmup)
            side.ns.clear()
        profiler = cProfile.Profile() if self.profile == name else None
        for done in range(0, self.requests, BLOCK):
            count = min(BLOCK, self.requests - done)
            with profiler or contextlib.nullcontext():
                service.block(count)
            floor.block(count)
        if profiler:
            stats = pstats.Stats(profiler, stream=sys.stderr).strip_dirs()
            stats.sort_stats('cumulative').print_stats(40)
            stats.sort_stats('tottime').print_stats(25)
        # The breakdown's own pass, its timers in place, each request followed
        # by a call of the floor (timed apart from the figures above).
        service_figures, floor_figures = service.summary(), floor.summary()
        floor.ns.clear()
        with Breakdown().installed() as breakdown:
            for _ in range(self.breakdown):
                args = service.make_args()
                service.check(args, breakdown.request(lambda args=args: service.run(args)))
                time.sleep(Side.pause)
                floor.block(1)
        pending = self.floor.scalar('SELECT COUNT(*) FROM outbox WHERE published_at IS NULL')
        if pending:
            raise BenchFailure(
                f'{name}: {pending} events left unpublished: SNS failed in the '
                'request path, and the figures would not include it'
            )
        result = {
            'name': name,
            'label': label,
            'statements': len(service_sql),
            'service': service_figures,
            'floor': floor_figures,
            'breakdown': breakdown.summary(floor.ns) if self.breakdown else None,
        }
        sys.stderr.write(
            f'  {name:<10} service p50 {result["service"]["p50"]:.3f} ms, floor '
            f'{result["floor"]["p50"]:.3f} ms\n'
        )
        return result

    def sql_of(self, side):
        """The SQL one call of a side runs: peewee's query hooks see the
        service's, the floor records its own."""
        seen = []
        hooks = connection.database.obj.query_hooks
        hooks.append(lambda query: seen.append(query.sql))
        self.floor.recorded = seen
        try:
            side.block(1)
        finally:
            hooks.pop()
            self.floor.recorded = None
        return [IN_LIST.sub(r'\1\2', sql) for sql in seen]

    def new_order(self, rng):
        self.next_user += 1
        user_id = 1 + self.next_user % USERS
        items = [
            (rng.randrange(1, 100_000), rng.randrange(1, 4), rng.choice(PRICES)) for _ in range(3)
        ]
        total = str(sum(q * Decimal(p) for _, q, p in items))
        return user_id, f'user{user_id}@example.com', items, total, rng.randrange(SHARDS)

    def create_event(self):
        user_id, email, items, _, _ = self.new_order(self.rng)
        return invocation(
            'POST',
            '/orders',
            body={
                'user_id': user_id,
                'user_email': email,
                'items': [
                    {'product_id': p, 'quantity': q, 'price_at_order': float(price)}
                    for p, q, price in items
                ],
            },
        )

    def catalog_order(self, rng, lines):
        """`lines` distinct tracked products of the catalog, priced by it."""
        self.next_user += 1
        user_id = 1 + self.next_user % USERS
        products = rng.sample(range(CATALOG_FIRST, CATALOG_FIRST + CATALOG_SIZE), lines)
        items = [(product, 1, None) for product in products]
        return (
            user_id,
            f'user{user_id}@example.com',
            items,
            str(CATALOG_PRICE * lines),
            rng.randrange(SHARDS),
        )

    def catalog_event(self, lines):
        user_id, email, items, _, _ = self.catalog_order(self.rng, lines)
        return invocation(
            'POST',
            '/orders',
            body={
                'user_id': user_id,
                'user_email': email,
                'items': [{'product_id': p, 'quantity': q} for p, q, _ in items],
            },
        )

    def checkout_body(self, lines):
        """A staff create (or quote) of `lines` catalog products with an
        address, the bench's shipping method and its code."""
        user_id, email, items, _, _ = self.catalog_order(self.rng, lines)
        return {
            'user_id': user_id,
            'user_email': email,
            'items': [{'product_id': p, 'quantity': q} for p, q, _ in items],
            'shipping_method': CHECKOUT_METHOD,
            'shipping_address': CHECKOUT_ADDRESS,
            'discount_code': CHECKOUT_CODE,
        }

    def checkout_event(self, lines, path='/orders'):
        return invocation('POST', path, body=self.checkout_body(lines))

    def checkout_floor_args(self, lines):
        """(user_id, email, products, totals, shard): the totals worked out
        here, untimed, by the service's own calculator."""
        user_id, email, items, _, shard = self.catalog_order(self.frng, lines)
        computed = totals.compute(
            [totals.Line(1, CATALOG_PRICE) for _ in items],
            'USD',
            discount=totals.Discount('percent', CHECKOUT_PERCENT),
            shipping=totals.Shipping(CHECKOUT_PRICE),
            zone=totals.TaxZone({'standard': CHECKOUT_RATE}, shipping=True),
        )
        return user_id, email, [product for product, _, _ in items], computed, shard

    def webhook_event(self, pool):
        """A signed payment_intent.succeeded for the next pending order of the
        pool (orders of one catalog line: CATALOG_PRICE each), as Stripe
        delivers it."""
        order_id = pool.popleft()
        self.next_event += 1
        intent_id = f'pi_bench_{order_id}'
        body = json.dumps(
            {
                'id': f'evt_bench_{self.next_event}',
                'object': 'event',
                'type': 'payment_intent.succeeded',
                'created': int(time.time()),
                'livemode': False,
                'data': {
                    'object': {
                        'id': intent_id,
                        'object': 'payment_intent',
                        'amount': int(CATALOG_PRICE * 100),
                        'amount_received': int(CATALOG_PRICE * 100),
                        'currency': 'usd',
                        'status': 'succeeded',
                        'metadata': {
                            'order_id': str(order_id),
                            'deployment': stripe_namespace(os.environ),
                        },
                    }
                },
            }
        )
        timestamp = int(time.time())
        mac = hmac.new(
            os.environ['STRIPE_WEBHOOK_SECRET'].encode(),
            f'{timestamp}.{body}'.encode(),
            hashlib.sha256,
        ).hexdigest()
        event, context = invocation('POST', '/webhooks/stripe')
        headers = {
            **event['headers'],
            'Content-Type': 'application/json',
            'Stripe-Signature': f't={timestamp},v1={mac}',
        }
        del headers['Authorization']
        event.update(
            body=body, headers=headers, multiValueHeaders={k: [v] for k, v in headers.items()}
        )
        return event, context

    def hold_intents(self, pool):
        """Each order of the pool holds the PaymentIntent its event names, as
        POST /orders/{id}/payment stores it, so the event is this
        deployment's. Untimed, before the webhook is measured."""
        for order_id in pool:
            Order.update(payment_intent_id=f'pi_bench_{order_id}').where(
                Order.order_id == order_id
            ).execute()

    def webhook_floor_args(self, pool):
        order_id = pool.popleft()
        self.next_floor_event += 1
        return (
            order_id,
            f'evt_floor_{self.next_floor_event}',
            f'pi_floor_{order_id}',
            self.frng.randrange(SHARDS),
        )

    def existing(self, rng, pool):
        if self.preloaded:
            return rng.randint(*self.preloaded)
        return pool[rng.randrange(len(pool))]

    def run_all(self):
        fl, rng, frng, measure = self.floor, self.rng, self.frng, self.measure
        made, paid, f_made, f_paid = deque(), deque(), deque(), deque()
        priced, f_priced = deque(), deque()
        ops = [
            measure(
                'health',
                'GET /health',
                lambda: invocation('GET', '/health'),
                200,
                lambda: (),
                fl.health,
            ),
            measure(
                'create',
                'POST /orders (3 items)',
                self.create_event,
                201,
                lambda: self.new_order(frng),
                fl.create,
                keep=(made, f_made),
            ),
            measure(
                'create_1',
                'POST /orders (1 line, catalog price, tracked stock)',
                lambda: self.catalog_event(1),
                201,
                lambda: self.catalog_order(frng, 1),
                fl.create,
                keep=(priced, f_priced),
            ),
        ]
        self.hold_intents(priced)
        ops += [
            # Pays the orders create_1 made, one signed Stripe event each.
            measure(
                'webhook',
                'POST /webhooks/stripe (payment_intent.succeeded pays an order)',
                lambda: self.webhook_event(priced),
                200,
                lambda: self.webhook_floor_args(f_priced),
                fl.webhook,
            ),
            measure(
                'create_10',
                'POST /orders (10 lines, catalog prices, tracked stock)',
                lambda: self.catalog_event(10),
                201,
                lambda: self.catalog_order(frng, 10),
                fl.create,
            ),
            measure(
                'checkout_1',
                'POST /orders (1 line, address, shipping, tax and a code)',
                lambda: self.checkout_event(1),
                201,
                lambda: self.checkout_floor_args(1),
                fl.checkout,
            ),
            measure(
                'checkout_10',
                'POST /orders (10 lines, address, shipping, tax and a code)',
                lambda: self.checkout_event(10),
                201,
                lambda: self.checkout_floor_args(10),
                fl.checkout,
            ),
            measure(
                'quote',
                'POST /orders/quote (10 lines, address, shipping, tax and a code)',
                lambda: self.checkout_event(10, '/orders/quote'),
                200,
                lambda: ([p for p, _, _ in self.catalog_order(frng, 10)[2]],),
                fl.quote,
            ),
            measure(
                'product',
                'GET /products/{id}',
                lambda: invocation('GET', '/products/{product_id}', product_id=CATALOG_FIRST),
                200,
                lambda: (CATALOG_FIRST,),
                fl.product,
            ),
            measure(
                'get',
                'GET /orders/{id}',
                lambda: invocation('GET', '/orders/{order_id}', order_id=self.existing(rng, made)),
                200,
                lambda: (self.existing(frng, f_made),),
                fl.get,
            ),
            measure(
                'list',
                'GET /orders?page=1&page_size=10 (with total)',
                lambda: invocation('GET', '/orders', query={'page': 1, 'page_size': 10}),
                200,
                lambda: (),
                fl.page,
                orders=10,
            ),
        ]
        after = (
            fl.scalar('SELECT MIN(order_id) FROM orders')
            + fl.scalar('SELECT MAX(order_id) FROM orders')
        ) // 2
        cursor = CURSORS.encode(after, {})
        return [
            *ops,
            measure(
                'list_deep',
                'GET /orders?cursor=<middle of the table>&page_size=10',
                lambda: invocation('GET', '/orders', query={'cursor': cursor, 'page_size': 10}),
                200,
                lambda: (None, after),
                fl.page,
                orders=10,
            ),
            measure(
                'user',
                'GET /users/{id}/orders (page 1)',
                lambda: invocation(
                    'GET',
                    '/users/{user_id}/orders',
                    query={'page_size': 10},
                    user_id=rng.randint(1, USERS),
                ),
                200,
                lambda: (frng.randint(1, USERS),),
                fl.page,
            ),
            measure(
                'update',
                'PUT /orders/{id} {"status": "paid"}',
                lambda: invocation(
                    'PUT', '/orders/{order_id}', body={'status': 'paid'}, order_id=move(made, paid)
                ),
                200,
                lambda: (move(f_made, f_paid), 'paid', frng.randrange(SHARDS)),
                fl.update,
            ),
            measure(
                'delete',
                'DELETE /orders/{id}',
                lambda: invocation('DELETE', '/orders/{order_id}', order_id=paid.popleft()),
                204,
                lambda: (f_paid.popleft(), frng.randrange(SHARDS)),
                fl.delete,
            ),
        ]


def open_the_checkout(floor):
    """The bench's shipping method, tax zone and code (untimed, once)."""
    if floor.scalar('SELECT COUNT(*) FROM shipping_methods'):
        return
    now = utcnow()

    def write():
        statements.insert(
            ShippingMethod,
            [
                {
                    'code': CHECKOUT_METHOD,
                    'name': 'Bench, 3-5 days',
                    'price': CHECKOUT_PRICE,
                    'currency': 'USD',
                    'countries': json.dumps(['US']),
                    'free_over': None,
                    'active': True,
                    'version': 1,
                    'updated_at': now,
                }
            ],
        )
        statements.insert(
            TaxRate,
            [
                {
                    'zone': CHECKOUT_ZONE,
                    'name': 'Illinois',
                    'rates': json.dumps({'standard': str(CHECKOUT_RATE)}),
                    'shipping': True,
                    'updated_at': now,
                }
            ],
        )
        statements.insert(
            Discount,
            [
                {
                    'code': CHECKOUT_CODE,
                    'type': 'percent',
                    'value': CHECKOUT_PERCENT,
                    'currency': None,
                    'min_subtotal': None,
                    'starts_at': None,
                    'ends_at': None,
                    'usage_limit': 10**9,
                    'per_customer_limit': None,
                    'product_ids': None,
                    'active': True,
                    'times_used': 0,
                    'version': 1,
                    'updated_at': now,
                }
            ],
        )

    floor.runner(write)(())
    if not floor.sqlite:
        floor.cur.execute('COMMIT')


def stock_the_catalog(floor):
    if floor.scalar('SELECT COUNT(*) FROM products'):
        return
    now = utcnow()
    floor.runner(
        lambda: statements.insert(
            Product,
            [
                {
                    'product_id': product_id,
                    'sku': f'BENCH-{product_id}',
                    'name': f'Bench {product_id}',
                    'unit_price': CATALOG_PRICE,
                    'currency': 'USD',
                    'active': True,
                    'on_hand': 10**9,
                    'reserved': 0,
                    'version': 1,
                    'updated_at': now,
                }
                for product_id in range(CATALOG_FIRST, CATALOG_FIRST + CATALOG_SIZE)
            ],
        )
    )(())
    if not floor.sqlite:
        floor.cur.execute('COMMIT')


def main(requests, warmup, orders, sns, profile, breakdown, pause_ms=0):
    Side.pause = pause_ms / 1000
    if sns == 'moto':
        import boto3
        from moto import mock_aws

        mock_aws().start()  # a fresh default session: the stub is registered after it
        boto3.client('sns', region_name=REGION).create_topic(Name='orders-bench-events')
    stub = SnsStub(on=sns == 'stub')
    import app

    first = app.app(*invocation('GET', '/health'))  # connects, and migrates
    if first['statusCode'] != 200:
        raise BenchFailure(f'GET /health -> {first}')
    floor = Floor()
    stock_the_catalog(floor)
    open_the_checkout(floor)
    result = {'preload_seconds': None}
    if orders > floor.scalar('SELECT COUNT(*) FROM orders'):
        result['preload_seconds'] = preload.preload(
            floor.proxy.connection(),
            floor.sqlite,
            orders - floor.scalar('SELECT COUNT(*) FROM orders'),
        )
    preloaded = orders and (
        floor.scalar('SELECT MIN(order_id) FROM orders'),
        floor.scalar('SELECT MAX(order_id) FROM orders'),
    )
    result['orders'] = floor.scalar('SELECT COUNT(*) FROM orders')
    bench = Bench(app.app, floor, requests, warmup, preloaded, profile, breakdown)
    result['ops'] = bench.run_all()
    # Each writing operation (the creates, the webhook that pays, update,
    # delete) publishes one event per call, its warm-up, first call and
    # breakdown pass too.
    writes = sum(
        1
        for op in result['ops']
        if op['name']
        in (
            'create',
            'create_1',
            'create_10',
            'checkout_1',
            'checkout_10',
            'webhook',
            'update',
            'delete',
        )
    )
    if sns == 'stub' and stub.calls != writes * (requests + warmup + 1 + breakdown):
        raise BenchFailure(f'the SNS stub answered {stub.calls} publishes, not one per write')
    # The cold start reads one order: every order made above is deleted again.
    result['existing_id'] = (
        preloaded[1] if preloaded else floor.runner(floor.create)(bench.new_order(bench.frng))
    )
    return result


if __name__ == '__main__':
    options, out = json.loads(sys.argv[1]), sys.argv[2]
    with open(out, 'w') as handle:
        json.dump(main(**options), handle)
