"""Peewee tables: one set of models for SQLite and MariaDB."""

import peewee

from chalicelib.core.money import ZERO
from chalicelib.storage.connection import database
from chalicelib.storage.fields import (
    ExactKeyField,
    ExactSkuField,
    IdField,
    MoneyField,
    OrderCurrencyField,
    PreciseDateTimeField,
    RateField,
)

# What the columns added to existing rows start at (the rows a migration finds).
NO_MONEY = peewee.SQL("DEFAULT '0.00'")
NO_RATE = peewee.SQL("DEFAULT '0.0000'")
FALSE = peewee.SQL('DEFAULT 0')
STANDARD_TAX_CLASS = peewee.SQL("DEFAULT 'standard'")


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Order(BaseModel):
    order_id = IdField()
    user_id = peewee.BigIntegerField(index=True)
    user_email = peewee.CharField(max_length=254, null=True)
    status = peewee.CharField(max_length=50, default='pending', index=True)
    order_total = MoneyField()
    created_at = PreciseDateTimeField()
    updated_at = PreciseDateTimeField()
    version = peewee.IntegerField(default=1)
    # Set by the move to shipped (an order ships once): shipped_at always,
    # the carrier, tracking number and link when the shipper gave them.
    carrier = peewee.CharField(max_length=50, null=True)
    tracking_number = peewee.CharField(max_length=100, null=True)
    tracking_url = peewee.CharField(max_length=500, null=True)
    shipped_at = PreciseDateTimeField(null=True)
    currency = OrderCurrencyField()
    # The money: what was paid and refunded, by which provider, under which
    # reference (Stripe's PaymentIntent id; NULL for a payment taken outside).
    amount_paid = MoneyField(default=ZERO, constraints=[NO_MONEY])
    amount_refunded = MoneyField(default=ZERO, constraints=[NO_MONEY])
    payment_provider = peewee.CharField(max_length=16, null=True)
    payment_reference = peewee.CharField(max_length=255, null=True)
    # The PaymentIntent made for the order, before (and whether or not) it pays.
    payment_intent_id = peewee.CharField(max_length=255, null=True)
    # What it costs beside its lines (orders/totals.py), as it was placed.
    # subtotal NULL: an order placed before these columns, or by a copy of
    # the previous release during a rollout; its subtotal is its total.
    subtotal = MoneyField(null=True)
    discount_total = MoneyField(default=ZERO, constraints=[NO_MONEY])
    shipping_total = MoneyField(default=ZERO, constraints=[NO_MONEY])
    tax_total = MoneyField(default=ZERO, constraints=[NO_MONEY])
    prices_include_tax = peewee.BooleanField(default=False, constraints=[FALSE])
    # Copies (JSON), so that nothing outside the order changes them.
    shipping_address = peewee.TextField(null=True)
    billing_address = peewee.TextField(null=True)
    # The shipping method as it was (NULL: no method), what it charged, its
    # tax, and what a free-shipping code waived of it.
    shipping_method = peewee.CharField(max_length=32, null=True)
    shipping_name = peewee.CharField(max_length=200, null=True)
    shipping_amount = MoneyField(default=ZERO, constraints=[NO_MONEY])
    shipping_tax = MoneyField(default=ZERO, constraints=[NO_MONEY])
    shipping_waived = MoneyField(default=ZERO, constraints=[NO_MONEY])
    # The discount code as it applied (NULL: none); what it took off is on the lines.
    discount_code = peewee.CharField(max_length=32, null=True)
    discount_type = peewee.CharField(max_length=16, null=True)
    discount_value = MoneyField(null=True)

    class Meta:
        table_name = 'orders'
        # Lists are newest first, i.e. by order_id descending. InnoDB secondary
        # indexes end in the primary key, and SQLite's in the rowid, so each of
        # these serves its filter's ORDER BY order_id DESC LIMIT n without a sort.
        indexes = ((('user_id', 'status'), False),)


class OrderItem(BaseModel):
    order_item_id = IdField()
    order = peewee.ForeignKeyField(
        Order, column_name='order_id', backref='items', on_delete='CASCADE', index=True
    )
    product_id = peewee.BigIntegerField()
    quantity = peewee.IntegerField()
    price_at_order = MoneyField()
    # As the catalog had them when the order was placed (NULL: a line priced
    # by staff for a product the catalog does not hold, or an older order).
    sku = peewee.CharField(max_length=64, null=True)
    name = peewee.CharField(max_length=200, null=True)
    # True while the line's quantity counts in its product's `reserved`:
    # from the order's creation (tracked products only) until it is
    # cancelled, deleted or shipped. The default serves older lines and
    # those a copy of the previous release writes during a rollout.
    holds_stock = peewee.BooleanField(default=False, constraints=[peewee.SQL('DEFAULT 0')])
    # Its share of the order's discount, its tax and the rate it was taxed
    # at, and its product's tax class as it was (orders/totals.py).
    discount = MoneyField(default=ZERO, constraints=[NO_MONEY])
    tax = MoneyField(default=ZERO, constraints=[NO_MONEY])
    tax_rate = RateField(default=ZERO, constraints=[NO_RATE])
    tax_class = peewee.CharField(
        max_length=32, default='standard', constraints=[STANDARD_TAX_CLASS]
    )

    class Meta:
        table_name = 'order_items'


class OrderHistory(BaseModel):
    """One row per version of an order, written in the transaction of the
    change that made that version; the first is the creation. It goes with
    its order (see docs/api.md, "Order history")."""

    id = IdField()
    order = peewee.ForeignKeyField(Order, column_name='order_id', on_delete='CASCADE', index=False)
    version = peewee.IntegerField()
    status = peewee.CharField(max_length=50)
    at = PreciseDateTimeField()
    # Who made the change (the token's role and sub); NULL on the entries a
    # migration wrote for orders older than the history.
    actor_role = peewee.CharField(max_length=16, null=True)
    actor_sub = peewee.CharField(max_length=255, null=True)
    reason = peewee.TextField(null=True)

    class Meta:
        table_name = 'order_history'
        # One entry per version, whatever races: the database refuses a second.
        indexes = ((('order', 'version'), True),)


class Refund(BaseModel):
    """Money given back on an order: committed with whatever asked for it,
    executed after the commit (payments/refunds.py)."""

    refund_id = IdField()
    order = peewee.ForeignKeyField(Order, column_name='order_id', on_delete='CASCADE', index=True)
    order_id: int  # what peewee sets beside `order`: the key, read without a query
    amount = MoneyField()
    currency = peewee.CharField(max_length=3)
    status = peewee.CharField(max_length=16)  # pending, succeeded, failed
    reason = peewee.TextField(null=True)
    items = peewee.TextField(null=True)  # JSON [{order_item_id, quantity}] or NULL
    provider = peewee.CharField(max_length=16, null=True)  # 'stripe', or NULL: outside
    payment_reference = peewee.CharField(max_length=255, null=True)  # what it gives back
    provider_refund_id = peewee.CharField(max_length=255, null=True)
    # A payment that reached a cancelled order: recorded on the order when
    # this refund of all of it succeeds.
    late_payment = peewee.BooleanField(default=False)
    actor_role = peewee.CharField(max_length=16)
    actor_sub = peewee.CharField(max_length=255)
    created_at = PreciseDateTimeField()
    updated_at = PreciseDateTimeField()
    # Who may send it to the provider: whoever holds claim_token until
    # claimed_until; after that, the refund relay may take it over.
    claim_token = peewee.CharField(max_length=36, null=True)
    claimed_until = PreciseDateTimeField(null=True)
    attempts = peewee.IntegerField(default=0)
    failure = peewee.TextField(null=True)
    # Whether it gave back the order's shipping (with its tax): once per
    # order. Last, where schema step 10 adds it.
    shipping = peewee.BooleanField(default=False, constraints=[FALSE])

    class Meta:
        table_name = 'refunds'
        indexes = ((('status', 'claimed_until'), False),)


class Return(BaseModel):
    """Goods a customer sends back (chalicelib/returns): opened, approved or
    declined, received; its own version, apart from its order's."""

    return_id = IdField()
    order = peewee.ForeignKeyField(Order, column_name='order_id', on_delete='CASCADE', index=True)
    order_id: int  # what peewee sets beside `order`: the key, read without a query
    status = peewee.CharField(max_length=16)  # requested, approved, declined, cancelled, received
    version = peewee.IntegerField()
    note = peewee.TextField(null=True)
    # Kept off the refund when the goods were received (a return-shipping or
    # restocking fee), and why.
    deduction = MoneyField(default=ZERO)
    deduction_reason = peewee.TextField(null=True)
    # The refund its receipt recorded (NULL: none, or not received yet).
    refund_id = peewee.BigIntegerField(null=True)
    actor_role = peewee.CharField(max_length=16)  # who opened it
    actor_sub = peewee.CharField(max_length=255)
    created_at = PreciseDateTimeField()
    updated_at = PreciseDateTimeField()

    class Meta:
        table_name = 'returns'


class ReturnItem(BaseModel):
    """A line of a return: how many of an order line go back, and, once
    received, how many arrived and whether they went back on the shelf."""

    id = IdField()
    return_ = peewee.ForeignKeyField(
        Return, column_name='return_id', on_delete='CASCADE', index=True
    )
    return_id: int
    order_item_id = peewee.BigIntegerField()
    quantity = peewee.IntegerField()
    reason = peewee.TextField(null=True)
    received = peewee.IntegerField(null=True)
    restocked = peewee.BooleanField(null=True)

    class Meta:
        table_name = 'return_items'


class ReturnHistory(BaseModel):
    """One row per version of a return, in its order's history (GET
    /orders/{id}/history) without changing the order's own version:
    `order_version` is the version the order was at, which places the entry
    among the order's own."""

    id = IdField()
    return_ = peewee.ForeignKeyField(
        Return, column_name='return_id', on_delete='CASCADE', index=False
    )
    order = peewee.ForeignKeyField(Order, column_name='order_id', on_delete='CASCADE', index=True)
    return_id: int  # what peewee sets beside `return_`
    order_version = peewee.IntegerField()
    version = peewee.IntegerField()
    status = peewee.CharField(max_length=16)
    at = PreciseDateTimeField()
    actor_role = peewee.CharField(max_length=16)
    actor_sub = peewee.CharField(max_length=255)
    reason = peewee.TextField(null=True)

    class Meta:
        table_name = 'return_history'
        indexes = ((('return_', 'version'), True),)


class IntentCancellation(BaseModel):
    """A PaymentIntent of this deployment's to cancel at Stripe: written in the
    transaction that cancelled, expired or deleted its order (a deleted
    order's row is gone, so it is kept here, with no key to it), deleted once
    Stripe has it cancelled (payments/intents.py)."""

    cancellation_id = IdField()
    payment_intent_id = peewee.CharField(max_length=255)
    order_id = peewee.BigIntegerField()
    created_at = PreciseDateTimeField()
    # Its writer alone tries until then; after that, the refund relay may.
    claimed_until = PreciseDateTimeField(index=True)

    class Meta:
        table_name = 'intent_cancellations'


class StripeEvent(BaseModel):
    """A Stripe event id handled, kept 14 days (longer than Stripe retries)."""

    event_id = peewee.CharField(max_length=255, primary_key=True)
    event_type = peewee.CharField(max_length=100)
    processed_at = PreciseDateTimeField(index=True)

    class Meta:
        table_name = 'stripe_events'


class Product(BaseModel):
    """The shop's catalog (chalicelib/catalog). `on_hand` NULL: stock not
    tracked (no limit). `reserved` is what open orders hold, the service's own
    count; `version` counts the catalog's writes (PUT, import), not stock moves."""

    product_id = peewee.BigIntegerField(primary_key=True)
    sku = ExactSkuField(null=True, unique=True)
    name = peewee.CharField(max_length=200)
    unit_price = MoneyField()
    currency = peewee.CharField(max_length=3)
    active = peewee.BooleanField()
    on_hand = peewee.BigIntegerField(null=True)
    reserved = peewee.BigIntegerField()
    version = peewee.IntegerField()
    updated_at = PreciseDateTimeField()
    tax_class = peewee.CharField(
        max_length=32, default='standard', constraints=[STANDARD_TAX_CLASS]
    )

    class Meta:
        table_name = 'products'


class ShippingMethod(BaseModel):
    """A way to ship, kept by staff like a product; `countries` is a JSON
    list of ISO 3166-1 codes."""

    code = peewee.CharField(max_length=32, primary_key=True)
    name = peewee.CharField(max_length=200)
    price = MoneyField()
    currency = peewee.CharField(max_length=3)
    countries = peewee.TextField()
    free_over = MoneyField(null=True)
    active = peewee.BooleanField()
    version = peewee.IntegerField()
    updated_at = PreciseDateTimeField()

    class Meta:
        table_name = 'shipping_methods'


class TaxRate(BaseModel):
    """A destination's flat rates: `zone` is a country (DE) or a country and
    subdivision (US-CA); `rates` a JSON object of tax class -> rate text."""

    zone = peewee.CharField(max_length=6, primary_key=True)
    name = peewee.CharField(max_length=100)
    rates = peewee.TextField()
    shipping = peewee.BooleanField()
    updated_at = PreciseDateTimeField()

    class Meta:
        table_name = 'tax_rates'


class Discount(BaseModel):
    """A discount code (upper-case). `times_used` counts the orders holding
    it, moved in the transaction of the order that takes or gives back a use,
    under this row's lock."""

    code = peewee.CharField(max_length=32, primary_key=True)
    type = peewee.CharField(max_length=16)
    value = MoneyField(null=True)
    currency = peewee.CharField(max_length=3, null=True)
    min_subtotal = MoneyField(null=True)
    starts_at = PreciseDateTimeField(null=True)
    ends_at = PreciseDateTimeField(null=True)
    usage_limit = peewee.IntegerField(null=True)
    per_customer_limit = peewee.IntegerField(null=True)
    product_ids = peewee.TextField(null=True)  # JSON list, NULL: every catalog line
    active = peewee.BooleanField()
    times_used = peewee.IntegerField()
    version = peewee.IntegerField()
    updated_at = PreciseDateTimeField()

    class Meta:
        table_name = 'discounts'


class DiscountUse(BaseModel):
    """The order that holds a use of a code, and whose: a customer's uses
    are counted here. Not a foreign key: a shipped order that is deleted
    keeps its use."""

    order_id = peewee.BigIntegerField(primary_key=True)
    code = peewee.CharField(max_length=32)
    user_id = peewee.BigIntegerField()

    class Meta:
        table_name = 'discount_uses'
        indexes = ((('code', 'user_id'), False),)


class OrderCount(BaseModel):
    """How many orders have a status, spread over shards (see counts.py)."""

    status = peewee.CharField(max_length=50)
    shard = peewee.SmallIntegerField()
    n = peewee.BigIntegerField(default=0)

    class Meta:
        table_name = 'order_counts'
        primary_key = peewee.CompositeKey('status', 'shard')


class CustomerLock(BaseModel):
    """One row per customer who placed an order: the row their creates lock,
    so that they take turns (orders/pending_limit.py)."""

    user_id = peewee.BigIntegerField(primary_key=True)

    class Meta:
        table_name = 'customer_locks'


class IdempotencyKey(BaseModel):
    key = ExactKeyField(primary_key=True)
    request_hash = peewee.CharField(max_length=64)
    # NULL while the first request is still being processed.
    response_body = peewee.TextField(null=True)
    created_at = PreciseDateTimeField(index=True)
    # The order the key created (NULL while in flight): deleting the order
    # deletes the key with it.
    order_id = peewee.BigIntegerField(null=True, index=True)

    class Meta:
        table_name = 'idempotency_keys'


class Outbox(BaseModel):
    id = IdField()
    event_id = peewee.CharField(max_length=36, unique=True)
    event_type = peewee.CharField(max_length=32)
    # Not a foreign key: the event of a deleted order outlives the order.
    order_id = peewee.BigIntegerField()
    subject = peewee.CharField(max_length=100)
    body = peewee.TextField()
    created_at = PreciseDateTimeField()
    published_at = PreciseDateTimeField(null=True, index=True)
    sns_message_id = peewee.CharField(max_length=100, null=True)
    # Until then the request that wrote the row may still be publishing it
    # and the relay leaves it alone; NULL once the request handed it over.
    relay_after = PreciseDateTimeField(null=True)

    class Meta:
        table_name = 'outbox'


class ProcessedEvent(BaseModel):
    event_id = peewee.CharField(max_length=36, primary_key=True)
    processed_at = PreciseDateTimeField(index=True)

    class Meta:
        table_name = 'processed_events'


class SchemaVersion(BaseModel):
    """One row per migration step applied (storage/migrations.py)."""

    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=100)
    applied_at = PreciseDateTimeField()

    class Meta:
        table_name = 'schema_version'


# The service's data; SchemaVersion is the migrations' own bookkeeping.
MODELS = [
    Order,
    OrderItem,
    OrderHistory,
    Refund,
    IntentCancellation,
    Product,
    OrderCount,
    IdempotencyKey,
    Outbox,
    ProcessedEvent,
    StripeEvent,
    ShippingMethod,
    TaxRate,
    Discount,
    DiscountUse,
    CustomerLock,
    Return,
    ReturnItem,
    ReturnHistory,
]
