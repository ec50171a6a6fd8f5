"""The answers of the API as marshmallow schemas, for the OpenAPI document only.

The service builds its answers with plain dicts (answers.dump_order), not with
these: a marshmallow dump costs about 4.5 times as much per order (22 us
against 4.9 us for an order with three items, timeit), which would add a
sixth to a list page of ten on MariaDB and push it past the benchmark's
"twice the bare SQL" target. What keeps the two from drifting apart: the
contract test (tests/integration/test_api_schemathesis.py) checks every answer
against the document built from these schemas, and
tests/integration/test_api_reference.py checks dump_order's answers directly.

Every field is required (but a history entry's reason): an answer always
carries all of them (null where it has no value), so a missing key is a bug the
contract test reports."""

from marshmallow import Schema, fields, validate

from chalicelib.core.money import CURRENCIES, MAX_MONEY
from chalicelib.orders.lifecycle import STATUSES
from chalicelib.orders.payment import PAYMENT_STATUSES
from chalicelib.orders.schemas import MAX_ID
from chalicelib.returns.rules import STATUSES as RETURN_STATUSES

_MONEY = validate.Range(min=0, max=float(MAX_MONEY))


def _id(description):
    return fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={'description': description},
    )


def _money(description):
    return fields.Float(required=True, validate=_MONEY, metadata={'description': description})


def _time(description):
    return fields.String(
        required=True,
        metadata={
            'format': 'date-time',
            'example': '2026-11-25T10:00:00.123456Z',
            'description': description + ' (UTC, ISO 8601 with microseconds and a Z).',
        },
    )


class OrderItemSchema(Schema):
    order_item_id = _id('Set by the server; never handed out twice.')
    product_id = _id('The product.')
    sku = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(1, 64),
        metadata={
            'description': "The product's SKU when the order was "
            'placed; null for a line the catalog did not '
            'hold (or none, or an older order).'
        },
    )
    name = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(1, 200),
        metadata={'description': "The product's name when the order was placed; null like sku."},
    )
    quantity = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=10000),
        metadata={'description': 'How many.'},
    )
    price_at_order = _money(
        "The unit price at the time of the order, in the order's "
        "currency: an exact amount with that currency's decimals."
    )
    discount = _money("The line's share of the order's discount.")
    tax = _money(
        "The line's tax, on its amount after its discount, rounded half up to the "
        "currency's minor unit."
    )
    tax_rate = fields.Float(
        required=True,
        validate=validate.Range(min=0, max=1, max_inclusive=False),
        metadata={'description': 'The rate the line was taxed at (0.0725 is 7.25 %).'},
    )


class AddressSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    company = fields.String(required=True, allow_none=True, validate=validate.Length(1, 100))
    line1 = fields.String(required=True, validate=validate.Length(1, 200))
    line2 = fields.String(required=True, allow_none=True, validate=validate.Length(1, 200))
    city = fields.String(required=True, validate=validate.Length(1, 100))
    region = fields.String(
        required=True,
        allow_none=True,
        metadata={'description': 'ISO 3166-2 subdivision code without the country prefix.'},
    )
    postal_code = fields.String(
        required=True, allow_none=True, metadata={'description': 'Normalised: SW1A 1AA.'}
    )
    country = fields.String(
        required=True,
        validate=validate.Regexp('^[A-Z]{2}$'),
        metadata={'description': 'ISO 3166-1 alpha-2.'},
    )
    phone = fields.String(required=True, allow_none=True, metadata={'description': 'E.164.'})


class ShippingSchema(Schema):
    method = fields.String(required=True, metadata={'description': "The method's code."})
    name = fields.String(required=True, metadata={'description': "The method's name, as placed."})
    amount = _money('What the method charged (0 once the order reached its free_over).')
    tax = _money("The shipping's tax.")
    waived = _money('What a free_shipping code took off the amount.')


class DiscountSchema(Schema):
    code = fields.String(required=True, metadata={'description': 'The code, upper-case.'})
    type = fields.String(
        required=True, validate=validate.OneOf(['percent', 'fixed', 'free_shipping'])
    )
    value = fields.Float(
        required=True,
        allow_none=True,
        metadata={'description': 'percent: 0 < v <= 100; fixed: money; free_shipping: null.'},
    )
    amount = _money("What it took off: the lines' discounts and the shipping it waived.")


class ShipmentSchema(Schema):
    carrier = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(1, 50),
        metadata={
            'description': 'The carrier given with the move to shipped; null if none was given.'
        },
    )
    tracking_number = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(1, 100),
        metadata={'description': "The parcel's tracking number; null if none was given."},
    )
    tracking_url = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(1, 500),
        metadata={'description': 'An https:// link to follow the parcel; null if none was given.'},
    )
    shipped_at = _time('When the order moved to shipped')


class PaymentSchema(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(PAYMENT_STATUSES),
        metadata={
            'description': 'unpaid, paid, partially_refunded or refunded: from the two amounts.'
        },
    )
    amount_paid = _money('What was paid; the total for an order marked paid by a PUT.')
    amount_refunded = _money('What refunds that succeeded gave back.')
    provider = fields.String(
        required=True,
        allow_none=True,
        metadata={
            'description': '"stripe" for a card payment; null for a payment taken outside '
            'the service (or none).'
        },
    )
    reference = fields.String(
        required=True,
        allow_none=True,
        metadata={'description': "The provider's reference (a Stripe PaymentIntent id), or null."},
    )


class OrderSchema(Schema):
    order_id = _id('Set by the server; never reused, not even after a delete.')
    user_id = _id('Whose order it is.')
    user_email = fields.String(
        required=True,
        allow_none=True,
        metadata={
            'format': 'email',
            'description': "Where the order's emails go; null: no emails.",
        },
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf(STATUSES),
        metadata={
            'description': 'pending -> paid -> shipped -> delivered; pending -> shipped; '
            'pending or paid -> cancelled. delivered and cancelled are final.'
        },
    )
    order_total = _money(
        'subtotal - discount_total + shipping_total (+ tax_total when prices do not include '
        'tax): what the customer pays, computed by the server.'
    )
    subtotal = _money('The sum of quantity x price_at_order over the items.')
    discount_total = _money("The lines' discounts.")
    shipping_total = _money('What shipping costs, less what a code waived.')
    tax_total = _money("The lines' tax and the shipping's.")
    prices_include_tax = fields.Boolean(
        required=True,
        metadata={'description': 'Whether the prices (and shipping) include tax.'},
    )
    shipping_address = fields.Nested(
        AddressSchema,
        required=True,
        allow_none=True,
        metadata={'description': 'Where the order goes, a copy kept with it; null: none.'},
    )
    billing_address = fields.Nested(
        AddressSchema,
        required=True,
        allow_none=True,
        metadata={'description': 'null: the same as the shipping address.'},
    )
    shipping = fields.Nested(
        ShippingSchema,
        required=True,
        allow_none=True,
        metadata={'description': 'The shipping method as placed; null: none.'},
    )
    discount = fields.Nested(
        DiscountSchema,
        required=True,
        allow_none=True,
        metadata={'description': 'The discount code as it applied; null: none.'},
    )
    created_at = _time('When the order was created')
    updated_at = _time('When its status last changed; equal to created_at until then')
    version = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={'description': '1 at creation, plus one on every change; also the ETag.'},
    )
    currency = fields.String(
        required=True,
        validate=validate.OneOf(sorted(CURRENCIES)),
        metadata={'description': 'ISO 4217 code of every amount of the order.', 'example': 'USD'},
    )
    shipment = fields.Nested(
        ShipmentSchema,
        required=True,
        allow_none=True,
        metadata={'description': 'null until the order ships; kept once it is delivered.'},
    )
    payment = fields.Nested(
        PaymentSchema,
        required=True,
        metadata={'description': "The order's money beside its status."},
    )
    items = fields.List(
        fields.Nested(OrderItemSchema),
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={'description': 'The lines, in the order they were sent.'},
    )


class QuotedItemSchema(OrderItemSchema):
    order_item_id = fields.Integer(
        required=True, allow_none=True, metadata={'description': 'null: not placed.'}
    )


class QuotedOrderSchema(OrderSchema):
    """An order as it would be placed (POST /orders/quote): nothing stored."""

    order_id = fields.Integer(required=True, allow_none=True, metadata={'description': 'null.'})
    version = fields.Integer(required=True, allow_none=True, metadata={'description': 'null.'})
    created_at = fields.String(required=True, allow_none=True, metadata={'description': 'null.'})
    updated_at = fields.String(required=True, allow_none=True, metadata={'description': 'null.'})
    items = fields.List(
        fields.Nested(QuotedItemSchema),
        required=True,
        validate=validate.Length(min=1, max=100),
    )


class ActorSchema(Schema):
    role = fields.String(
        required=True,
        validate=validate.OneOf(['customer', 'staff', 'service', 'system', 'payment']),
        metadata={
            'description': "The caller's role; `system` for the "
            "service's own scheduled functions "
            '(`expire_unpaid`); `payment` for a Stripe '
            'event (`sub` is its id).'
        },
    )
    sub = fields.String(
        validate=validate.Length(1, 255),
        metadata={'description': "The token's sub; shown to staff only."},
    )


class HistoryEntrySchema(Schema):
    version = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={'description': 'The version of the order this change made; 1 is the creation.'},
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf([*STATUSES, *RETURN_STATUSES]),
        metadata={
            'description': "The status it set: the order's, or on a return's entry the return's."
        },
    )
    return_id = fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={
            'description': "On a return's change only: which return. Its `version` is the "
            "order's, which a return never changes."
        },
    )
    at = _time('When')
    by = fields.Nested(
        ActorSchema,
        required=True,
        allow_none=True,
        metadata={
            'description': 'Who made the change; null on the one entry an upgrade wrote for an '
            'order older than the history.'
        },
    )
    reason = fields.String(
        validate=validate.Length(1, 500),
        metadata={'description': 'The reason given with a cancellation; absent otherwise.'},
    )


class OrderListSchema(Schema):
    orders = fields.List(
        fields.Nested(OrderSchema),
        required=True,
        validate=validate.Length(max=100),
        metadata={'description': 'Newest first (order_id descending).'},
    )
    total = fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={'description': 'How many orders match the filters, whatever the page.'},
    )
    page = fields.Integer(
        required=True,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={'description': 'The page number asked for; null on a page fetched by cursor.'},
    )
    page_size = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=100),
        metadata={'description': 'The page size used.'},
    )
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={
            'description': 'Pass it as ?cursor= for the next page; null on the last page. Opaque.'
        },
    )


class StockSchema(Schema):
    on_hand = fields.Integer(
        validate=validate.Range(min=0),
        metadata={'description': 'Units in the shop (staff and services only).'},
    )
    reserved = fields.Integer(
        validate=validate.Range(min=0),
        metadata={'description': 'Units open orders hold (staff and services only).'},
    )
    available = fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={'description': 'What may still be ordered: max(on_hand - reserved, 0).'},
    )


class ProductSchema(Schema):
    product_id = _id('Chosen by the shop.')
    sku = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(1, 64),
        metadata={'description': 'Unique among products; null: none.'},
    )
    name = fields.String(required=True, validate=validate.Length(1, 200))
    unit_price = _money('The price of one, in `currency`.')
    currency = fields.String(required=True, validate=validate.OneOf(sorted(CURRENCIES)))
    active = fields.Boolean(
        required=True,
        metadata={'description': 'false: retired, no longer sold (orders keep pointing at it).'},
    )
    stock = fields.Nested(
        StockSchema,
        required=True,
        allow_none=True,
        metadata={'description': 'null: not tracked, no limit. A customer sees `available` only.'},
    )
    tax_class = fields.String(
        required=True,
        validate=validate.Regexp('^[a-z0-9_-]{1,32}$'),
        metadata={'description': "Which of a zone's rates taxes it; default `standard`."},
    )
    version = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={
            'description': "1 at creation, plus one on every write of the catalog's own fields "
            '(stock moved by orders does not count); also the ETag.'
        },
    )
    updated_at = _time('When the catalog last wrote it')


class ShippingMethodSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp('^[a-z0-9-]{1,32}$'))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    price = _money('What it costs, in `currency`.')
    currency = fields.String(required=True, validate=validate.OneOf(sorted(CURRENCIES)))
    countries = fields.List(
        fields.String(validate=validate.Regexp('^[A-Z]{2}$')),
        required=True,
        validate=validate.Length(1, 250),
        metadata={'description': 'ISO 3166-1 codes it ships to, sorted.'},
    )
    free_over = fields.Float(
        required=True,
        allow_none=True,
        validate=_MONEY,
        metadata={'description': 'From this subtotal (after discounts) it costs 0; null: never.'},
    )
    active = fields.Boolean(required=True)
    version = fields.Integer(
        required=True, validate=validate.Range(min=1), metadata={'description': 'Also the ETag.'}
    )
    updated_at = _time('When staff last wrote it')


class ShippingMethodListSchema(Schema):
    shipping_methods = fields.List(
        fields.Nested(ShippingMethodSchema), required=True, validate=validate.Length(max=100)
    )
    total = fields.Integer(required=True, validate=validate.Range(min=0))
    page = fields.Integer(required=True, allow_none=True, validate=validate.Range(min=1))
    page_size = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    next_cursor = fields.String(required=True, allow_none=True)


class DiscountSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp('^[A-Z0-9_-]{3,32}$'))
    type = fields.String(
        required=True, validate=validate.OneOf(['percent', 'fixed', 'free_shipping'])
    )
    value = fields.Float(required=True, allow_none=True)
    currency = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(sorted(CURRENCIES))
    )
    min_subtotal = fields.Float(required=True, allow_none=True, validate=_MONEY)
    starts_at = fields.String(required=True, allow_none=True, metadata={'format': 'date-time'})
    ends_at = fields.String(required=True, allow_none=True, metadata={'format': 'date-time'})
    usage_limit = fields.Integer(required=True, allow_none=True)
    per_customer_limit = fields.Integer(required=True, allow_none=True)
    product_ids = fields.List(fields.Integer(), required=True, allow_none=True)
    active = fields.Boolean(required=True)
    times_used = fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={'description': 'How many orders hold a use of it now.'},
    )
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    updated_at = _time('When staff last wrote it')


class DiscountListSchema(Schema):
    discounts = fields.List(fields.Nested(DiscountSchema), required=True)
    total = fields.Integer(required=True, validate=validate.Range(min=0))


class TaxRateSchema(Schema):
    zone = fields.String(required=True, validate=validate.Regexp('^[A-Z]{2}(-[A-Z0-9]{1,3})?$'))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    rates = fields.Dict(
        keys=fields.String(validate=validate.Regexp('^[a-z0-9_-]{1,32}$')),
        values=fields.Float(validate=validate.Range(min=0, max=1, max_inclusive=False)),
        required=True,
        metadata={'description': 'Tax class -> rate (0.0625 is 6.25 %).'},
    )
    shipping = fields.Boolean(
        required=True, metadata={'description': 'Whether the standard rate taxes shipping.'}
    )
    updated_at = _time('When staff last wrote it')


class TaxRateListSchema(Schema):
    tax_rates = fields.List(fields.Nested(TaxRateSchema), required=True)
    total = fields.Integer(required=True, validate=validate.Range(min=0))


class ProductListSchema(Schema):
    products = fields.List(
        fields.Nested(ProductSchema),
        required=True,
        validate=validate.Length(max=100),
        metadata={'description': 'By product_id, ascending.'},
    )
    total = fields.Integer(required=True, validate=validate.Range(min=0))
    page = fields.Integer(required=True, allow_none=True, validate=validate.Range(min=1))
    page_size = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    next_cursor = fields.String(required=True, allow_none=True)


class PaymentIntentSchema(Schema):
    payment_intent_id = fields.String(
        required=True, metadata={'description': "Stripe's PaymentIntent id: one per order."}
    )
    client_secret = fields.String(
        required=True,
        metadata={'description': 'What Stripe.js confirms the card payment with, in the browser.'},
    )
    amount = _money("The order's total, in its currency.")
    currency = fields.String(
        required=True, validate=validate.Length(equal=3), metadata={'description': 'ISO 4217 code.'}
    )
    status = fields.String(
        required=True,
        metadata={
            'description': "The PaymentIntent's status at Stripe, e.g. requires_payment_method."
        },
    )


class RefundLineSchema(Schema):
    order_item_id = _id('The line refunded.')
    quantity = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=10000),
        metadata={'description': 'How many of it.'},
    )


class RefundSchema(Schema):
    refund_id = _id('Set by the server.')
    order_id = _id('The order refunded.')
    amount = _money('What goes back, in the currency.')
    currency = fields.String(
        required=True,
        validate=validate.Length(equal=3),
        metadata={'description': "The order's currency (ISO 4217)."},
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf(['pending', 'succeeded', 'failed']),
        metadata={
            'description': 'pending until the provider says; succeeded at once for a payment '
            'taken outside the service.'
        },
    )
    reason = fields.String(
        required=True, allow_none=True, metadata={'description': 'The reason given, or null.'}
    )
    items = fields.List(
        fields.Nested(RefundLineSchema),
        required=True,
        allow_none=True,
        metadata={'description': 'The lines refunded, or null for an amount.'},
    )
    created_at = _time('When it was asked for')


class ReturnLineSchema(Schema):
    order_item_id = _id('The order line.')
    quantity = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=10000),
        metadata={'description': 'How many of it go back.'},
    )
    reason = fields.String(
        required=True, allow_none=True, metadata={'description': 'Why, or null.'}
    )
    received = fields.Integer(
        required=True,
        allow_none=True,
        validate=validate.Range(min=0, max=10000),
        metadata={'description': 'How many arrived; null until received.'},
    )
    restocked = fields.Boolean(
        required=True,
        allow_none=True,
        metadata={'description': 'Whether they went back on the shelf; null until received.'},
    )


class ReturnSchema(Schema):
    return_id = _id('Set by the server.')
    order_id = _id('The order.')
    status = fields.String(
        required=True,
        validate=validate.OneOf(RETURN_STATUSES),
        metadata={'description': 'requested, approved, declined, cancelled or received.'},
    )
    version = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={'description': "The return's own version: its ETag, for `If-Match`."},
    )
    items = fields.List(fields.Nested(ReturnLineSchema), required=True)
    note = fields.String(
        required=True, allow_none=True, metadata={'description': 'The note given, or null.'}
    )
    deduction = _money('Kept off the refund when received (0 otherwise).')
    refund_id = fields.Integer(
        required=True,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={'description': 'The refund receiving recorded; null before, or when none.'},
    )
    created_at = _time('When it was opened')
    updated_at = _time('When it last changed')


class WebhookAnswerSchema(Schema):
    received = fields.Boolean(required=True, metadata={'description': 'Always true.'})


class ErrorSchema(Schema):
    Code = fields.String(
        required=True,
        validate=validate.OneOf(
            [
                'BadRequestError',
                'UnauthorizedError',
                'ForbiddenError',
                'NotFoundError',
                'ConflictError',
                'PreconditionFailed',
                'RequestEntityTooLargeError',
                'UnsupportedMediaType',
                'UnprocessableEntityError',
                'NotImplementedError',
                'BadGatewayError',
                'ServiceUnavailable',
            ]
        ),
        metadata={'description': 'Which error: one per status.'},
    )
    Message = fields.String(required=True, metadata={'description': 'For people.'})
    errors = fields.Dict(
        metadata={
            'description': 'Detail, where there is some: keyed by body field (and by item '
            'index, as a string, inside items), query or path parameter, or '
            'header name; each problem is a list of messages.',
            'example': {
                'items': {
                    '0': {
                        'quantity': [
                            'Must be greater than or equal to 1 and less than or equal to 10000.'
                        ]
                    }
                }
            },
        }
    )


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(['ok', 'error']))
    database = fields.String(required=True, validate=validate.OneOf(['ok', 'unreachable']))
    version = fields.String(
        required=True,
        metadata={'description': 'The version of the service answering (semantic versioning).'},
    )
