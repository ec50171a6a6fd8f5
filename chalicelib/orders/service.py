"""The order service: every use case, each in one transaction that also
writes the change's event to the outbox. Events are handed to `publish`
only after the commit. A write transaction that lost a deadlock or outwaited
a lock runs once more (retry_when_busy) before the request answers 503."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from chalicelib.catalog import products, stock, stock_rules
from chalicelib.core import money
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import (
    DatabaseBusy,
    ExportTooLarge,
    InvalidInput,
    OutOfStock,
    TotalChanged,
    VersionMismatch,
)
from chalicelib.core.lazy import lazy_import
from chalicelib.events import messages
from chalicelib.events.outbox import record_event
from chalicelib.identity.principal import STAFF, Principal
from chalicelib.orders import access, counts, idempotency, pending_limit, queries
from chalicelib.orders.answers import dump_history_entry, dump_order, dump_return_history_entry
from chalicelib.orders.loaders import items_of, locked_order, readable_order
from chalicelib.orders.paging import CURSORS, Filters
from chalicelib.platform import metrics
from chalicelib.platform.config import get_settings
from chalicelib.platform.logs import log
from chalicelib.storage import statements
from chalicelib.storage.connection import database, retry_when_busy
from chalicelib.storage.models import IntentCancellation, Order, OrderHistory, OrderItem, Outbox

# The commands (the schemas build them) are only annotations here: a GET of
# an order does not build their dataclasses.
if TYPE_CHECKING:
    from chalicelib.catalog import pricing
    from chalicelib.orders import (
        addresses,
        changes,
        discounts,
        export,
        shipping_methods,
        tax_rates,
        totals,
    )
    from chalicelib.orders.commands import (
        AddressChange,
        ExportRange,
        NewOrder,
        OrderListQuery,
        OrderUpdate,
    )
else:
    # Loaded by the first create (pricing, totals) and the first change
    # (changes), not by a GET of one order: a cold start's import is a
    # Lambda's first answer.
    pricing = lazy_import('chalicelib.catalog.pricing')
    changes = lazy_import('chalicelib.orders.changes')
    totals = lazy_import('chalicelib.orders.totals')
    # Loaded by the first create or quote, and the first cancel or delete (a
    # code's use goes back).
    discounts = lazy_import('chalicelib.orders.discounts')
    shipping_methods = lazy_import('chalicelib.orders.shipping_methods')
    tax_rates = lazy_import('chalicelib.orders.tax_rates')
    # Loaded by the first CSV export.
    export = lazy_import('chalicelib.orders.export')


class CancellationRefunds(Protocol):
    """What gives back the money of a cancelled order (payments/ fills it in:
    the orders never import payments). `record` runs inside the
    cancellation's transaction, before the change is written: it records the
    refund and returns the change to write (with the refund in it when it
    succeeded at once) and the refunds `send` moves after the commit."""

    def record(
        self,
        order: Order,
        change: changes.OrderChange,
        actor: Any,
        now: datetime,
        reason: str | None,
    ) -> tuple[changes.OrderChange, list[Any]]: ...

    def send(self, refunds: list[Any]) -> Any: ...


class IntentCancels(Protocol):
    """What cancels at Stripe the PaymentIntents of orders that went
    (payments/ fills it in). Their rows are written by apply_change and
    delete_order, inside the change's transaction, claimed by the writer for
    INTENT_CLAIM; `send` tries them after the commit, and what it could not
    cancel the refund relay cancels."""

    def send(self, payment_intent_ids: list[str]) -> Any: ...


# marshmallow: loaded by the first create, not by a GET of one order.
schemas = lazy_import('chalicelib.orders.schemas')


@dataclass
class Created:
    body: dict
    replayed: bool = False


def _no_publish(events: Sequence[Outbox]) -> None:
    pass


# A tracked product changed (a PUT) between the order's pricing read and its
# lock; the order is priced again, at most this many times in all.
_CATALOG_RETRIES = 3


class _CatalogMoved(Exception):
    pass


class OrderService:
    def __init__(
        self,
        publish: Callable[[Sequence[Outbox]], None] = _no_publish,
        clock: Callable[[], datetime] = utcnow,
        cancellation_refunds: CancellationRefunds | None = None,
        intent_cancels: IntentCancels | None = None,
    ) -> None:
        self.publish = publish
        self.clock = clock
        self.cancellation_refunds = cancellation_refunds
        self.intent_cancels = intent_cancels

    # -- create ---------------------------------------------------------
    def create_order(
        self,
        principal: Principal,
        new: NewOrder,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> Created:
        new = _owned(principal, new)
        log.info('Creating order for user_id=%s', new.user_id)
        now = self.clock()
        key, stored = idempotency.claim_or_replay(principal, idempotency_key, request_hash, now)
        if stored is not None:
            return Created(stored, replayed=True)
        with idempotency.released_on_failure(key):
            order, items, event = self._insert_order(principal, new, now, key)
        log.info(
            'Order created successfully: order_id=%s',
            order.order_id,
            extra={'order_id': order.order_id},
        )
        metrics.emit('OrdersCreated', 1)
        self.publish([event])
        return Created(dump_order(order, items))

    def quote_order(self, principal: Principal, new: NewOrder) -> dict[str, Any]:
        """The order as it would be placed now, under the rules and roles of
        create_order, with the same refusals; nothing is stored, reserved,
        counted or published. Its reads take no lock and no transaction: a
        quote costs less than a create and never holds up one."""
        plan = _plan_order(principal, _owned(principal, new), self.clock())
        answer = dump_order(
            plan.order, [OrderItem(order_item_id=None, **line) for line in _line_rows(None, plan)]
        )
        return {**answer, 'order_id': None, 'version': None, 'created_at': None, 'updated_at': None}

    @retry_when_busy
    def _insert_order(
        self, principal: Principal, new: NewOrder, now: datetime, idempotency_key: str | None
    ) -> tuple[Order, list[OrderItem], Outbox]:
        """Price, write and reserve in one transaction. Product rows are
        locked last (stock.py says why), and only those whose stock is
        tracked: an untracked product is priced from the transaction's
        snapshot, as the catalog was when the order came in."""
        for _ in range(_CATALOG_RETRIES):
            try:
                with database.atomic():
                    return self._write_order(principal, new, now, idempotency_key)
            except _CatalogMoved:
                log.info('A product changed while its order was placed: pricing it again')
        raise DatabaseBusy(
            'The catalog kept changing while the order was placed; try again shortly'
        )

    def _write_order(
        self, principal: Principal, new: NewOrder, now: datetime, idempotency_key: str | None
    ) -> tuple[Order, list[OrderItem], Outbox]:
        pending_limit.check_before_create(principal)
        plan = _plan_order(principal, new, now)
        order = plan.order
        order.order_id = statements.insert_instance(order)
        statements.insert(OrderItem, _line_rows(order.order_id, plan))
        items = items_of([order.order_id])[order.order_id]
        record_history(order, principal, now)
        event = record_event(
            messages.ORDER_CREATED,
            order,
            now,
            messages.created_details(
                order.subtotal, order.discount_total, order.shipping_total, order.tax_total
            ),
        )
        counts.record_change(new_status='pending')
        if idempotency_key is not None:
            idempotency.complete(idempotency_key, dump_order(order, items), order.order_id)
        if plan.wanted:
            locked = stock.lock(product_id for _, product_id, _ in plan.wanted)
            if any(
                locked[product_id].version != plan.rows[product_id].version for product_id in locked
            ):
                raise _CatalogMoved()
            stock.reserve(plan.wanted, locked)
        # After the product rows: every transaction locks a code after them.
        if plan.discount is not None and not discounts.take(
            plan.discount, order.order_id, order.user_id
        ):
            raise _CatalogMoved()
        return order, items, event

    # -- read -----------------------------------------------------------
    def get_order(self, principal: Principal, order_id: int) -> dict[str, Any]:
        order = readable_order(principal, order_id)
        return dump_order(order, items_of([order_id])[order_id])

    def list_orders(
        self, principal: Principal, query: OrderListQuery, user_id: int | None = None
    ) -> dict[str, Any]:
        filters: Filters = {
            'status': query.status,
            'user_id': user_id if user_id is not None else query.user_id,
        }
        page = query.page
        after = None
        if page.cursor is not None:
            after, remembered = CURSORS.decode(page.cursor, filters)
            filters = cast(Filters, remembered)
        # After the cursor is read, so that what it remembers is scoped too: a
        # cursor never shows its holder more than their own request would.
        filters['user_id'] = access.scope_for_list(principal, filters['user_id'])
        rows = queries.ORDER_PAGES.fetch(page.page_size, after, page.offset, filters)
        orders = rows[: page.page_size]
        more = len(rows) > page.page_size
        next_cursor = CURSORS.encode(orders[-1].order_id, filters) if more else None
        items = items_of([order.order_id for order in orders])
        return {
            'orders': [dump_order(order, items[order.order_id]) for order in orders],
            'total': _total(filters),
            'page': page.number,
            'page_size': page.page_size,
            'next_cursor': next_cursor,
        }

    def order_history(self, principal: Principal, order_id: int) -> list:
        """Every version of the order, oldest first (creation is version 1),
        and every change of its returns, each after the version of the order
        it was made at."""
        readable_order(principal, order_id)
        with_sub = access.sees_authors(principal)
        entries = [
            dump_history_entry(entry, with_sub)
            for entry in statements.fetch(queries.HISTORY_OF, order_id=order_id)
        ]
        returns = statements.fetch(queries.RETURN_HISTORY_OF, order_id=order_id)
        if not returns:
            return entries
        # A return's entry comes after the order's entry of the version the
        # order was at when the return changed (and after earlier returns' entries).
        merged: list[dict[str, Any]] = []
        waiting = [dump_return_history_entry(entry, with_sub) for entry in returns]
        for entry in entries:
            while waiting and waiting[0]['version'] < entry['version']:
                merged.append(waiting.pop(0))
            merged.append(entry)
        return merged + waiting

    def export_orders(self, principal: Principal, user_id: int | None, dates: ExportRange) -> str:
        """One user's orders as CSV text (export.py), newest first, read in
        keyset chunks so that memory holds the text and one chunk at most."""
        user_id = access.scope_for_list(principal, user_id)
        start, end = export.bounds(dates.from_date, dates.to_date)
        count, page, items_of = queries.export_statements(start is not None, end is not None)
        bounds = {
            name: value for name, value in (('start', start), ('end', end)) if value is not None
        }
        matching, newest = statements.run(count, user_id=user_id, **bounds).fetchone()
        if matching > export.MAX_ORDERS:
            raise ExportTooLarge(
                f'{matching} orders match, more than the {export.MAX_ORDERS} one export '
                'may hold: narrow the dates (from, to) and export in parts'
            )
        table = export.CsvTable()
        after = (newest or 0) + 1
        while True:
            orders = statements.fetch(
                page, user_id=user_id, after=after, limit=export.CHUNK_ORDERS, **bounds
            )
            if not orders:
                break
            items = defaultdict(list)
            for item in statements.fetch(
                items_of,
                user_id=user_id,
                low=orders[-1].order_id,
                high=orders[0].order_id,
                **bounds,
            ):
                items[item.order_id].append(item)
            for order in orders:
                table.add_order(order, items[order.order_id])
            if table.size > export.MAX_CHARS:
                raise ExportTooLarge(
                    f'The export would be larger than the {export.MAX_CHARS:,} characters '
                    'one answer may hold: narrow the dates (from, to) and export in parts'
                )
            if len(orders) < export.CHUNK_ORDERS:
                break
            after = orders[-1].order_id
        return table.text()

    # -- change ---------------------------------------------------------
    def update_status(
        self,
        principal: Principal,
        order_id: int,
        update: OrderUpdate,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """What a PUT asks: a status, with what may come with it (carrier,
        tracking_number, tracking_url with shipped; reason with cancelled),
        new addresses, or both in one change."""
        status = (
            None
            if update.status is None
            else changes.StatusRequest(update.status, expected_version, update.details())
        )
        if update.addresses is None:
            assert status is not None  # the schema wants one of them
            changed = self.change_status(principal, order_id, status)
        else:
            changed = self.change_addresses(
                principal, order_id, update.addresses, status, expected_version
            )
        assert changed is not None  # None only answers a still_applies condition
        return changed

    @retry_when_busy
    def change_addresses(
        self,
        principal: Principal,
        order_id: int,
        addresses: AddressChange,
        status: changes.StatusRequest | None,
        expected_version: int | None,
    ) -> dict[str, Any]:
        """New addresses (and perhaps a status) for an order that has not
        shipped, taxed again at its new destination: changes.plan_order_update
        decides, from the zone and the method's countries as they are now."""

        def plan(order: Order, items: list[OrderItem], now: datetime) -> changes.OrderChange | None:
            return changes.plan_order_update(
                order,
                items,
                principal,
                status,
                addresses,
                _destination(order, addresses),
                now,
                expected_version,
            )

        changed = self._change(principal, order_id, plan, status)
        assert changed is not None
        return changed

    @retry_when_busy
    def change_status(
        self,
        principal: Principal,
        order_id: int,
        request: changes.StatusRequest,
        still_applies: Callable[[Order], bool] | None = None,
    ) -> dict[str, Any] | None:
        """Load and lock the order, let changes.plan_status_change decide, and
        write what it says. still_applies(order): checked on the locked row
        (False: nothing changes and the answer is None), so that a caller's
        condition and the change are one step."""

        def plan(order: Order, items: list[OrderItem], now: datetime) -> changes.OrderChange | None:
            return changes.plan_status_change(order, items, principal, request, now)

        return self._change(principal, order_id, plan, request, still_applies)

    def _change(
        self,
        principal: Principal,
        order_id: int,
        plan: Callable[[Order, list[OrderItem], datetime], changes.OrderChange | None],
        request: changes.StatusRequest | None,
        still_applies: Callable[[Order], bool] | None = None,
    ) -> dict[str, Any] | None:
        """One change of one order, in one transaction: lock it, plan, write
        (apply_change), then move its stock and give its code's use back."""
        now = self.clock()
        with database.atomic():
            order = locked_order(order_id)
            items = items_of([order_id])[order_id]
            if still_applies is not None and not still_applies(order):
                return None
            change = plan(order, items, now)
            if change is None:
                return dump_order(order, items)
            refunds: list[Any] = []
            if change.fields.get('status') == 'cancelled' and self.cancellation_refunds is not None:
                change, refunds = self.cancellation_refunds.record(
                    order,
                    change,
                    principal,
                    now,
                    None if request is None else request.details.get('reason'),
                )
            events = apply_change(order, change, now)
            if change.lines:
                items = items_of([order_id])[order_id]
            # Last: product rows are the last rows a transaction locks.
            stock.release(order_id, change.release)
            stock.sell(order_id, change.sell)
            if order.status == 'cancelled':
                discounts.give_back(order_id, order.discount_code)
        log.info(
            'Order updated: order_id=%s status=%s version=%s',
            order_id,
            order.status,
            order.version,
            extra={'order_id': order_id},
        )
        metrics.emit('OrderStatusChanges', 1)
        self.publish(events)
        if refunds and self.cancellation_refunds is not None:
            self.cancellation_refunds.send(refunds)
        self._cancel_intent(change.cancel_intent)
        return dump_order(order, items)

    @retry_when_busy
    def delete_order(self, principal: Principal, order_id: int) -> None:
        now = self.clock()
        with database.atomic():
            order = locked_order(order_id)
            access.check_delete(principal, order.user_id)
            deletion = changes.plan_delete(
                order,
                items_of([order_id])[order_id],
                statements.scalar(queries.REFUNDS_IN_FLIGHT, order_id=order_id),
            )
            statements.run(queries.DELETE_ORDER, order_id=order_id)
            record_intent_cancellation(order_id, deletion.cancel_intent, now)
            event = record_event(messages.ORDER_DELETED, order, now)
            counts.record_change(old_status=order.status)
            # Its stored answer must never replay a deleted order. Last, as in
            # create_order: both lock a count row before key rows, so neither
            # waits for the other in a circle.
            idempotency.forget_order(order_id)
            # The lines are gone with their order; their products' reservations go now.
            stock.move_stock('release', deletion.release)
            # A shipped order keeps its use: the code served a sale.
            if order.shipped_at is None:
                discounts.give_back(order_id, order.discount_code)
        log.info('Order deleted: order_id=%s', order_id, extra={'order_id': order_id})
        self.publish([event])
        self._cancel_intent(deletion.cancel_intent)

    def _cancel_intent(self, payment_intent_id: str | None) -> None:
        """After the commit: cancel it now (what fails, the relay retries)."""
        if payment_intent_id is not None and self.intent_cancels is not None:
            self.intent_cancels.send([payment_intent_id])


# How long the writer of an intent's cancellation alone may send it (far
# longer than a request waits on Stripe); the refund relay takes it after.
INTENT_CLAIM = timedelta(seconds=60)


def _owner(new: NewOrder) -> int:
    assert new.user_id is not None  # _owned set it
    return new.user_id


def _owned(principal: Principal, new: NewOrder) -> NewOrder:
    """The order with whose it is (the access rules decide) and its email."""
    user_id, email = access.creation_owner(principal, new.user_id, new.user_email)
    if email is not None:
        email = schemas.verified_email(email)  # a token's address too meets the body's rules
    return dataclasses.replace(new, user_id=user_id, user_email=email)


@dataclass(frozen=True)
class _Plan:
    """An order as it would be placed: priced, every total computed, not written."""

    order: Order
    priced: pricing.PricedOrder
    computed: totals.Totals
    rows: dict[int, Any]
    wanted: list[tuple[int, int, int]]  # (item index, product_id, quantity) to reserve
    discount: discounts.Applied | None


def _plan_order(principal: Principal, new: NewOrder, now: datetime) -> _Plan:
    """Price the lines from the catalog as the transaction sees it, refuse
    what placing the order would refuse (400, 409), and compute every total.
    Reads only: a quote is this and nothing more."""
    requests = [
        pricing.Request(item.product_id, item.quantity, item.price_at_order) for item in new.items
    ]
    rows = products.rows(request.product_id for request in requests)
    priced = pricing.price_order(
        requests,
        {product_id: products.entry(row) for product_id, row in rows.items()},
        staff=principal.role == STAFF,
        body_currency=new.currency,
        default_currency=get_settings().default_currency,
    )
    wanted = [
        (index, line.product_id, line.quantity)
        for index, line in enumerate(priced.lines)
        if line.reserves
    ]
    # Sold out already in the snapshot: refused before anything is written.
    short = stock_rules.shortages(wanted, rows)
    if short:
        raise OutOfStock(errors={'items': short})
    method = _shipping_method(principal, new, priced.currency)
    applied = (
        None
        if new.discount_code is None
        else discounts.check(
            new.discount_code.upper(),
            _owner(new),
            priced.currency,
            [
                (line.product_id, line.quantity * line.price_at_order, line.in_catalog)
                for line in priced.lines
            ],
            now,
        )
    )
    destination = new.shipping_address or new.billing_address
    prices_include_tax = get_settings().prices_include_tax
    computed = totals.compute(
        [
            totals.Line(
                line.quantity,
                line.price_at_order,
                line.tax_class,
                discountable=applied is not None and applied.eligible[index],
            )
            for index, line in enumerate(priced.lines)
        ],
        priced.currency,
        discount=None if applied is None else applied.allocation,
        shipping=None if method is None else method.shipping,
        zone=None if destination is None else tax_rates.zone_for(destination.zones),
        prices_include_tax=prices_include_tax,
    )
    if computed.order_total > money.MAX_MONEY:
        raise InvalidInput(
            'Invalid order',
            {'items': ['The order total must be less than or equal to 99999999.99.']},
        )
    expected = new.expected_total
    if expected is not None and expected != computed.order_total:
        raise TotalChanged(
            f'The total is {money.display(computed.order_total, priced.currency)}, '
            f'not {money.display(expected, priced.currency)}',
            {
                'expected_total': [
                    f'The total is {money.display(computed.order_total, priced.currency)}.'
                ]
            },
        )
    log.info('Order total calculated: %s %s', computed.order_total, priced.currency)
    order = Order(
        user_id=new.user_id,
        user_email=new.user_email,
        status='pending',
        order_total=computed.order_total,
        subtotal=computed.subtotal,
        discount_total=computed.discount_total,
        shipping_total=computed.shipping_total,
        tax_total=computed.tax_total,
        prices_include_tax=prices_include_tax,
        shipping_address=_address_text(new.shipping_address),
        billing_address=_address_text(new.billing_address),
        shipping_method=None if method is None else method.code,
        shipping_name=None if method is None else method.name,
        shipping_amount=computed.shipping.amount,
        shipping_tax=computed.shipping.tax,
        shipping_waived=computed.shipping.waived,
        discount_code=None if applied is None else applied.code,
        discount_type=None if applied is None else applied.type,
        discount_value=None if applied is None else applied.value,
        created_at=now,
        updated_at=now,
        version=1,
        currency=priced.currency,
    )
    return _Plan(order, priced, computed, rows, wanted, applied)


def _shipping_method(
    principal: Principal, new: NewOrder, currency: str
) -> shipping_methods.Chosen | None:
    """The method the order names, if it may ship it. A customer must name
    one once the shop has an active method; staff may leave it out."""
    code = new.shipping_method
    if code is None:
        if principal.role != STAFF and shipping_methods.shop_ships():
            raise InvalidInput(
                'Invalid order',
                {
                    'shipping_method': [
                        "Required: choose one of the shop's shipping methods "
                        '(GET /shipping-methods).'
                    ]
                },
            )
        return None
    if new.shipping_address is None:  # the schema requires one with a method
        raise InvalidInput(
            'Invalid order', {'shipping_address': ['Required with shipping_method.']}
        )
    return shipping_methods.choose(code, new.shipping_address.country, currency)


def _line_rows(order_id: int | None, plan: _Plan) -> list[dict[str, Any]]:
    """The order's lines as they are written (or, for a quote, answered)."""
    return [
        {
            'order': order_id,
            'product_id': line.product_id,
            'quantity': line.quantity,
            'price_at_order': line.price_at_order,
            'sku': line.sku,
            'name': line.name,
            'holds_stock': line.reserves,
            'discount': line_totals.discount,
            'tax': line_totals.tax,
            'tax_rate': line_totals.tax_rate,
            'tax_class': line.tax_class,
        }
        for line, line_totals in zip(plan.priced.lines, plan.computed.lines, strict=True)
    ]


def _destination(order: Order, change: AddressChange) -> changes.Destination:
    """The tax zone of where the order goes once changed, and the countries
    its shipping method ships to now (read inside the change's transaction)."""
    where = changes.destination_after(order, change)
    return changes.Destination(
        zone=None if where is None else tax_rates.zone_for(where.zones),
        method_countries=(
            frozenset()
            if order.shipping_method is None
            else shipping_methods.countries_of(order.shipping_method, order.currency)
        ),
    )


def _address_text(address: addresses.Address | None) -> str | None:
    return None if address is None else address.to_json()


# The columns of an order's money: a change of any of them writes them all.
_MONEY = ('amount_paid', 'amount_refunded', 'payment_provider', 'payment_reference')
# What an address change writes beside the usual: it writes exactly what changes.
_ADDRESSES = ('shipping_address', 'billing_address')


def apply_change(order: Order, change: changes.OrderChange, now: datetime) -> list[Outbox]:
    """Write a planned change of a locked order, whoever asked for it (a
    request, a card payment, a refund, expiry): its fields (the version in
    the WHERE: a check and a write in one step), its history entry, the
    status counts, its outbox rows and the PaymentIntent it leaves to cancel
    (record_intent_cancellation); the events written. Inside the
    change's transaction. The one place an order's status, money, addresses
    and totals are written, its lines' tax with them."""
    values = {name: value for name, value in change.fields.items() if name != 'version'}
    if any(name in values for name in _ADDRESSES):
        statement = queries.change_of(tuple(sorted(values)))
    elif 'shipped_at' in values:
        statement = queries.SHIP
    elif any(name in values for name in _MONEY):
        statement = queries.CHANGE_PAYMENT
        values = {
            'status': order.status,
            **{name: getattr(order, name) for name in _MONEY},
            **values,
        }
    else:
        statement = queries.CHANGE_STATUS
    if (
        statements.run(statement, order_id=order.order_id, version=order.version, **values).rowcount
        != 1
    ):
        raise VersionMismatch(f'Order {order.order_id} changed meanwhile')
    for name, value in change.fields.items():
        setattr(order, name, value)
    for order_item_id, columns in change.lines.items():
        statements.run(
            queries.RETAX_LINE, order_item_id=order_item_id, order_id=order.order_id, **columns
        )
    _write_history(order.order_id, change.history)
    counts.record_change(old_status=change.old_status, new_status=order.status)
    record_intent_cancellation(order.order_id, change.cancel_intent, now)
    return [record_event(kind, order, now, details) for kind, details in change.events]


def record_intent_cancellation(order_id: int, payment_intent_id: str | None, now: datetime) -> None:
    """Inside the transaction that cancelled, expired or deleted the order:
    its PaymentIntent is cancelled at Stripe after the commit, by the writer
    while INTENT_CLAIM lasts, then by the refund relay (payments/intents.py)."""
    if payment_intent_id is None:
        return
    statements.insert(
        IntentCancellation,
        [
            {
                'payment_intent_id': payment_intent_id,
                'order_id': order_id,
                'created_at': now,
                'claimed_until': now + INTENT_CLAIM,
            }
        ],
    )


def record_history(order: Order, principal: Principal, now: datetime) -> None:
    """The entry of an order's creation (every later version's is written by
    apply_change); inside the creation's transaction."""
    _write_history(
        order.order_id,
        changes.HistoryEntry(
            version=order.version,
            status=order.status,
            at=now,
            role=principal.role,
            sub=principal.sub,
            reason=None,
        ),
    )


def _write_history(order_id: int, entry: changes.HistoryEntry) -> None:
    statements.insert(
        OrderHistory,
        [
            {
                'order': order_id,
                'version': entry.version,
                'status': entry.status,
                'at': entry.at,
                'actor_role': entry.role,
                'actor_sub': entry.sub,
                'reason': entry.reason,
            }
        ],
    )


def _total(filters: Filters) -> int:
    if filters.get('user_id') is None:
        return counts.total(filters.get('status'))
    # One user's orders are few and sit together in the user_id index.
    if filters.get('status') is None:
        return statements.scalar(queries.COUNT_USER_ORDERS, user_id=filters['user_id'])
    return statements.scalar(
        queries.COUNT_USER_ORDERS_WITH_STATUS,
        user_id=filters['user_id'],
        status=filters['status'],
    )
