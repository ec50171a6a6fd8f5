"""Generate the service's OpenAPI document: `make openapi` (or `--check`).

No maintained Chalice plugin exists for apispec, so this maps `app.routes`
(path -> method -> view) to paths itself, and describes each operation below.
Request bodies and query parameters come from the marshmallow schemas that
validate them (chalicelib/orders/schemas.py) through apispec's
MarshmallowPlugin; answers from tools/response_schemas.py.

The document is written to chalicelib/api/openapi.json, which GET /openapi.json
serves (`chalice package` ships only app.py, chalicelib/ and vendor/), and to
docs/openapi.json, an identical copy for readers of the repository (a copy, not
a symlink: a forge shows a symlink as a path, and a Windows checkout as a text
file). This module runs in development only: apispec is a dev requirement, and
no Lambda ever imports it.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

import app as service
from chalicelib import __version__
from chalicelib.catalog import schemas as catalog_schemas
from chalicelib.core import money
from chalicelib.orders import schemas
from chalicelib.payments import schemas as payment_schemas
from tools import openapi_returns, openapi_rules, openapi_totals, response_schemas

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUTS = [
    os.path.join(ROOT, 'chalicelib', 'api', 'openapi.json'),
    os.path.join(ROOT, 'docs', 'openapi.json'),
]
# The only routes a caller may use without a bearer token.
PUBLIC = {
    ('/health', 'GET'),
    ('/openapi.json', 'GET'),
    ('/docs', 'GET'),
    ('/webhooks/stripe', 'POST'),
}
BEARER = [{'bearerAuth': []}]

DESCRIPTION_TEMPLATE = """\
Orders with items and exact money, a status lifecycle, optimistic concurrency
(`ETag` / `If-Match`) and idempotent creation (`Idempotency-Key`).

- Requests and answers are JSON. A request without a `Content-Type` is read as JSON;
  any other `Content-Type`, on any method, is a 415.
- Unknown body fields and unknown query parameters are a 400, and so is anything
  outside the rules given here: nothing is ever clamped or rounded to fit.
- Money is exact: a JSON number with at most two decimals, 0..99999999.99, and no
  more than its currency allows (none for JPY and KRW). Every order and product has
  one ISO 4217 `currency`.
- Prices come from the catalog (`/products`): a customer never sets one.
- Times are UTC, ISO 8601 with microseconds and a `Z`.
- Errors are `{"Code", "Message", "errors"?}`; `errors` says what was wrong, keyed by
  field, parameter or header.
- Every operation but `GET /health`, `GET /openapi.json`, `GET /docs` and
  `POST /webhooks/stripe` (signed by Stripe instead) needs
  `Authorization: Bearer <JWT>`: without a valid token it is a 401, and a role
  that may not do what it asks is a 403.
- Answers carry exactly the fields described here.
- A request valid by this document is refused only for what JSON Schema cannot say,
  and each operation's description names those rules: a role (a customer's own
  orders, staff's `user_id`), the state of other resources (a product on sale, an
  order's status, its version, what is left to refund), a cursor's content, a page's
  offset (`(page - 1) x page_size` at most 2^63-1), dates in order, a signature.
- Free text refuses what its `pattern` excludes (control and bidirectional-control
  characters and, where it says printable, any character Python's `str.isprintable`
  refuses by Unicode {unicode}) and lone surrogates (`\\ud800` escapes), which no
  pattern can name.
- Paths the API does not have are answered by API Gateway itself (403
  `{"message": "Missing Authentication Token"}`), not in the error shape.
"""

# Header rules that live outside marshmallow: idempotency.validate_key and
# chalicelib/api/http.expected_version.
IDEMPOTENCY_KEY = {
    'name': 'Idempotency-Key',
    'in': 'header',
    'required': False,
    'description': 'Makes retries safe: a repeat with the same key and the same body within '
    '24 hours replays the stored answer (`Idempotent-Replayed: true`) and '
    'creates nothing; the same key with another body is a 422; a repeat '
    'while the first request is still running is a 409. Compared exactly.',
    'schema': {'type': 'string', 'minLength': 1, 'maxLength': 255, 'pattern': '^[ -~]+$'},
    'example': '5f1c6a2e-8d2a-4f4e-9a57-2c1d6f0e9b11',
}
IF_MATCH = {
    'name': 'If-Match',
    'in': 'header',
    'required': False,
    'description': 'Change the order only at this version: its ETag, `"3"` (or `3`). '
    '`*` or no header: no check. A weak tag (`W/"3"`) never matches (412); '
    'anything else is a 400.',
    'schema': {'type': 'string', 'pattern': r'^ *(\*|W/"[0-9]{1,9}"|"[0-9]{1,9}"|[0-9]{1,9}) *$'},
    'example': '"1"',
}

HEADERS = {
    'ETag': {
        'description': 'The order\'s (or product\'s) version, e.g. `"1"`: send it back '
        'in `If-Match`.',
        'required': True,
        'schema': {'type': 'string', 'pattern': '^"[0-9]+"$'},
    },
    'Location': {
        'description': 'The new order: `/orders/{order_id}`.',
        'required': True,
        'schema': {'type': 'string', 'pattern': '^/orders/[0-9]+$'},
    },
    'Idempotent-Replayed': {
        'description': 'Present on a replay: this is the stored answer of the first request '
        'with this `Idempotency-Key` (the order as it was then).',
        'required': False,
        'schema': {'type': 'string', 'enum': ['true']},
    },
    'Retry-After': {
        'description': 'Seconds to wait before retrying.',
        'required': True,
        'schema': {'type': 'integer', 'minimum': 1},
    },
    'WWW-Authenticate': {
        'description': '`Bearer`, with `error="invalid_token"` when a token was sent.',
        'required': True,
        'schema': {'type': 'string', 'pattern': '^Bearer'},
    },
}


def _error(code, message, errors=None):
    example = {'Code': code, 'Message': message}
    if errors:
        example['errors'] = errors
    return {'application/json': {'schema': 'Error', 'example': example}}


RESPONSES = {
    'BadRequest': {
        'description': 'Bad input: a body, parameter or header outside its rule.',
        'content': _error(
            'BadRequestError',
            'Invalid order',
            {
                'items': {
                    '0': {
                        'quantity': [
                            'Must be greater than or equal to 1 and less than or equal to 10000.'
                        ]
                    }
                }
            },
        ),
    },
    'Unauthorized': {
        'description': 'No valid bearer token: missing, malformed, expired, or not signed '
        'by the issuer. Says nothing about the order asked for.',
        'headers': {'WWW-Authenticate': 'WWW-Authenticate'},
        'content': _error('UnauthorizedError', 'A valid bearer token is required'),
    },
    'NotFound': {
        'description': 'No such order: it never existed or was deleted (or, for a '
        "customer, it is another user's order).",
        'content': _error('NotFoundError', 'Order not found'),
    },
    'PayloadTooLarge': {
        'description': f'The body is over {schemas.MAX_BODY_BYTES} bytes (64 KiB).',
        'content': _error(
            'RequestEntityTooLargeError',
            f'Request body is larger than {schemas.MAX_BODY_BYTES} bytes',
        ),
    },
    'UnsupportedMediaType': {
        'description': "A `Content-Type` other than JSON (Chalice's own answer, on any method).",
        'content': _error('UnsupportedMediaType', 'Unsupported media type: text/plain'),
    },
    'ServiceUnavailable': {
        'description': 'The database cannot be reached; safe to retry after `Retry-After`.',
        'headers': {'Retry-After': 'Retry-After'},
        'content': _error('ServiceUnavailable', 'The database is unavailable; try again shortly'),
    },
    'ProviderUnavailable': {
        'description': 'The database or Stripe cannot be reached; safe to retry after '
        '`Retry-After`.',
        'headers': {'Retry-After': 'Retry-After'},
        'content': _error(
            'ServiceUnavailable', 'The payment provider is unavailable; try again shortly'
        ),
    },
    'NotConfigured': {
        'description': 'Card payments are not configured on this deployment.',
        'content': _error(
            'NotImplementedError', 'Card payments are not configured on this deployment'
        ),
    },
    'ProviderRefused': {
        'description': 'Stripe refused the call for good.',
        'content': _error('BadGatewayError', 'Stripe refused the request: ...'),
    },
}

ORDER_EXAMPLE = {
    'order_id': 1,
    'user_id': 1,
    'user_email': 'ada@example.com',
    'status': 'pending',
    'order_total': 109.97,
    'created_at': '2026-11-25T10:00:00.123456Z',
    'updated_at': '2026-11-25T10:00:00.123456Z',
    'version': 1,
    'currency': 'USD',
    'shipment': None,
    'items': [
        {
            'order_item_id': 1,
            'product_id': 101,
            'sku': 'MUG-BLUE',
            'name': 'Blue mug',
            'quantity': 2,
            'price_at_order': 29.99,
        },
        {
            'order_item_id': 2,
            'product_id': 102,
            'sku': 'TEE-BLACK-M',
            'name': 'Black T-shirt, M',
            'quantity': 1,
            'price_at_order': 49.99,
        },
    ],
}
PRODUCT_EXAMPLE = {
    'product_id': 101,
    'sku': 'MUG-BLUE',
    'name': 'Blue mug',
    'unit_price': 29.99,
    'currency': 'USD',
    'active': True,
    'stock': {'on_hand': 40, 'reserved': 3, 'available': 37},
    'version': 4,
    'updated_at': '2026-12-05T10:00:00.000000Z',
}
LIST_EXAMPLE = {
    'orders': [ORDER_EXAMPLE],
    'total': 1,
    'page': 1,
    'page_size': 10,
    'next_cursor': None,
}
HISTORY_EXAMPLE = [
    {
        'version': 1,
        'status': 'pending',
        'at': '2026-11-25T10:00:00.123456Z',
        'by': {'role': 'customer', 'sub': 'dev-customer-1'},
    },
    {
        'version': 2,
        'status': 'cancelled',
        'at': '2026-11-25T10:05:00.000000Z',
        'by': {'role': 'customer', 'sub': 'dev-customer-1'},
        'reason': 'Ordered twice by mistake',
    },
]
EXPORT_EXAMPLE = (
    'order_id,created_at,status,order_total,currency,product_id,sku,quantity,price_at_order\r\n'
    '1,2026-11-25T10:00:00.123456Z,paid,109.97,USD,101,MUG-BLUE,2,29.99\r\n'
    '1,2026-11-25T10:00:00.123456Z,paid,109.97,USD,102,TEE-BLACK-M,1,49.99\r\n'
)
REFUND_EXAMPLE = {
    'refund_id': 1,
    'order_id': 1,
    'amount': 10.0,
    'currency': 'USD',
    'status': 'pending',
    'reason': 'Scratched mug',
    'items': None,
    'created_at': '2026-11-25T10:10:00.000000Z',
}
NEW_ORDER_EXAMPLE = {
    'items': [
        {'product_id': 101, 'quantity': 2, 'price_at_order': 29.99},
        {'product_id': 102, 'quantity': 1},
    ]
}
ORDER_CONFLICTS = (
    'The same `Idempotency-Key` still being processed (retry shortly); a `price_at_order` '
    'a customer sent that is not the current price (`errors.items.<i>.price_at_order` names '
    'it: show it, then order again); or not enough stock (`errors.items.<i>.quantity` says '
    'how many are available). Nothing is created.'
)


def _order(description, **headers):
    return {
        'description': description,
        'headers': {'ETag': 'ETag', **headers},
        'content': {'application/json': {'schema': 'Order', 'example': ORDER_EXAMPLE}},
        'links': {
            name: LINKS[name]
            for name in (
                'GetOrder',
                'UpdateOrder',
                'DeleteOrder',
                'GetOrderHistory',
                'ListUserOrders',
            )
        },
    }


def _list(description):
    return {
        'description': description,
        'content': {'application/json': {'schema': 'OrderList', 'example': LIST_EXAMPLE}},
    }


def _json_body(schema, description, example):
    return {
        'required': True,
        'description': description,
        'content': {'application/json': {'schema': schema, 'example': example}},
    }


_ORDER_ID = {'order_id': '$response.body#/order_id'}
LINKS = {
    'GetOrder': {
        'operationId': 'get_order',
        'parameters': _ORDER_ID,
        'description': 'The order, read back.',
    },
    'UpdateOrder': {
        'operationId': 'update_order',
        'parameters': _ORDER_ID,
        'description': 'Change its status.',
    },
    'DeleteOrder': {
        'operationId': 'delete_order',
        'parameters': _ORDER_ID,
        'description': 'Delete it.',
    },
    'GetOrderHistory': {
        'operationId': 'get_order_history',
        'parameters': _ORDER_ID,
        'description': 'Its changes.',
    },
    'ListUserOrders': {
        'operationId': 'list_user_orders',
        'parameters': {'user_id': '$response.body#/user_id'},
        'description': "Its user's orders.",
    },
}


class _PathIds(Schema):
    # The rule of chalicelib/api/http.path_id (marshmallow's words).
    order_id = schemas.QueryInteger(
        required=True,
        metadata={'description': 'The order: plain digits, 1..2^63-1.'},
        validate=validate.Range(min=1, max=schemas.MAX_ID),
    )
    user_id = schemas.QueryInteger(
        required=True,
        metadata={'description': 'The user: plain digits, 1..2^63-1.'},
        validate=validate.Range(min=1, max=schemas.MAX_ID),
    )
    refund_id = schemas.QueryInteger(
        required=True,
        metadata={'description': 'The refund: plain digits, 1..2^63-1.'},
        validate=validate.Range(min=1, max=schemas.MAX_ID),
    )
    return_id = schemas.QueryInteger(
        required=True,
        metadata={'description': 'The return: plain digits, 1..2^63-1.'},
        validate=validate.Range(min=1, max=schemas.MAX_ID),
    )


class _ProductId(Schema):
    product_id = schemas.QueryInteger(
        required=True,
        metadata={'description': 'The product: plain digits, 1..2^63-1.'},
        validate=validate.Range(min=1, max=schemas.MAX_ID),
    )


def _product(description):
    return {
        'description': description,
        'headers': {'ETag': 'ETag'},
        'content': {'application/json': {'schema': 'Product', 'example': PRODUCT_EXAMPLE}},
    }


def _path_param(name):
    return {'in': 'path', 'schema': _PathIds(only=[name])}


LIST_DESCRIPTION = (
    'Newest first (by `order_id`, descending). Two ways to page: `page` and `page_size` '
    '(the cost grows with the page number, and orders created meanwhile shift the pages), '
    'or `cursor` with `page_size`: pass the `next_cursor` of the previous answer; its cost '
    'does not grow with depth and new orders never shift it. A cursor remembers the filters '
    'that made it: repeating them is allowed, changing them is a 400. `page` with `cursor` '
    'is a 400, and so is a `page` whose offset `(page - 1) x page_size` is over 2^63-1. '
    'An empty value (`?status=`) means no filter; an unknown parameter is a 400. `total` '
    'counts every order matching the filters.'
)

# What each request field means, beside the rule its validators already give;
# keyed by the schema that declares the field.
FIELD_DESCRIPTIONS = {
    schemas.CreateOrderSchema: {
        'currency': "Staff's choice for lines priced outside the catalog; with catalog "
        "lines it must be theirs (400 otherwise). Left out: the products', "
        'else the default (`DEFAULT_CURRENCY`).',
        'user_id': 'Whose order: a JSON integer ("1", 1.5, 1.0 and true are refused).',
        'user_email': "Where the order's emails go: a valid address, printable ASCII "
        'without `=?`. null or left out: no emails.',
        'items': 'The lines; the same product may appear on several. Their total, the sum '
        'of quantity x price_at_order, must be at most 99999999.99.',
    },
    schemas.AddressSchema: {
        'country': "ISO 3166-1 alpha-2, one Google's address data knows. Its rules then "
        'decide which other fields are required, its regions (ISO 3166-2 codes without '
        'the country prefix) and its postal codes (400 at the field refused).',
    },
    schemas.OrderItemSchema: {
        'product_id': 'A JSON integer.',
        'quantity': 'A JSON integer.',
        'price_at_order': 'Left out: the catalog prices the line. From a customer: must be '
        'the current price (409 otherwise). From staff: kept as sent.',
    },
    catalog_schemas.ProductSchema: {
        'name': '1..200 printable characters in any script, not blank.',
        'unit_price': 'In `currency`, with no more decimals than it has.',
        'currency': 'ISO 4217.',
        'sku': '1..64 printable characters, unique among products (compared exactly). '
        'null or left out: none.',
        'active': 'false retires the product (there is no DELETE). Default true.',
        'stock': '`{"on_hand": n}` (0..10^9) to track stock; null or left out: not tracked.',
    },
    catalog_schemas.ProductListQuerySchema: {
        'active': '`true` or `false`: only active or only retired products (staff and '
        'services; a customer sees active ones only).',
        'page': 'Page number, plain digits (default 1). Not with `cursor`.',
        'page_size': 'Products per page, plain digits.',
        'cursor': 'The `next_cursor` of an earlier answer (opaque). Not with `page`.',
    },
    schemas.UpdateOrderSchema: {
        'status': 'The new status: the lifecycle decides whether the move is allowed. '
        'Left out: the status stays (send addresses then).',
        'shipping_address': 'Where the order now goes (replaced, never removed); its tax is '
        'computed again there.',
        'billing_address': 'The new billing address; null: the same as the shipping address.',
        'carrier': 'Only with `shipped`, and with `tracking_number`: 1..50 printable '
        'characters in any script (no control, format or separator character '
        'but the space), not blank.',
        'tracking_number': 'Only with `shipped`, and with `carrier`: 1..100 of A-Z a-z 0-9 -.',
        'tracking_url': 'Only with `shipped`, `carrier` and `tracking_number`: an https:// '
        'URL with a host, of the characters RFC 3986 allows (percent-encode '
        'the rest), without a user name or password.',
        'reason': 'Only with `cancelled`: why, 1..500 characters, not blank; line breaks '
        'and tabs allowed, other control characters not.',
    },
    schemas.ExportQuerySchema: {
        'from_date': 'The first day, YYYY-MM-DD: orders created from 00:00:00 UTC that day. '
        'Left out: no lower bound.',
        'to_date': 'The last day, YYYY-MM-DD: orders created up to 23:59:59.999999 UTC that '
        'day. Left out: no upper bound. Not before `from`.',
    },
    payment_schemas.RefundRequestSchema: {
        'amount': 'What to give back; not with `items`.',
        'items': 'The lines to give back (quantity x price_at_order each); not with `amount`.',
        'reason': 'Why, 1..500 characters, not blank; shown in the refund email.',
    },
    payment_schemas.RefundItemSchema: {
        'order_item_id': 'A line of this order: a JSON integer.',
        'quantity': 'A JSON integer.',
    },
    schemas.ListQuerySchema: {
        'page': 'Page number, plain digits (default 1). Not with `cursor`.',
        'page_size': 'Orders per page, plain digits.',
        'status': 'Only orders with this status.',
        'user_id': "Only this user's orders: plain digits.",
        'cursor': 'The `next_cursor` of an earlier answer (opaque). Not with `page`.',
    },
}

# The request bodies, by their names in the document (a nested one first).
REQUESTS = {
    'NewOrderItem': schemas.OrderItemSchema,
    'NewOrder': schemas.CreateOrderSchema,
    'StatusChange': schemas.UpdateOrderSchema,
    'NewStock': catalog_schemas.StockSchema,
    'NewProduct': catalog_schemas.ProductSchema,
    'RefundRequestItem': payment_schemas.RefundItemSchema,
    'RefundRequest': payment_schemas.RefundRequestSchema,
}
# (path, method) -> the operation, less what every operation has in common.
OPERATIONS = {
    ('/orders', 'POST'): {
        'tags': ['orders'],
        'summary': 'Create an order',
        'description': 'Each line is priced from the catalog: the product must exist and be '
        'active (else a 400 at `errors.items.<i>.product_id`); a '
        '`price_at_order` sent with it must be the current `unit_price` (else '
        'a 409). Staff may price a line themselves (kept as sent; the product '
        "need not be in the catalog) and send `currency`. The order's "
        "currency is its products' (they must share one), else the body's, "
        'else the default. Tracked stock is reserved in the same transaction: '
        'short stock is a 409 and nothing is created. The server computes '
        '`order_total` (at most 99999999.99) and sets `status` to `pending`, '
        '`version` to 1. A customer creates orders for themselves only (`user_id` '
        'left out or their own); staff must name the user (`user_id`, else a 400); '
        'a service token may not create (403). Not in the schema, because the role or '
        "the catalog decides: staff's `user_id`, a product on sale (400), "
        "the lines' shared currency and its decimals (400).",
        'parameters': [IDEMPOTENCY_KEY],
        'requestBody': _json_body('NewOrder', 'The order to create.', NEW_ORDER_EXAMPLE),
        'responses': {
            '201': _order(
                'Created (or, with `Idempotent-Replayed: true`, the replay of the '
                'first request with this `Idempotency-Key`).',
                **{'Location': 'Location', 'Idempotent-Replayed': 'Idempotent-Replayed'},
            ),
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': "Another user's id or email for a customer; any create "
                'for a service token.',
                'content': _error('ForbiddenError', 'Not allowed for this role'),
            },
            '409': {
                'description': ORDER_CONFLICTS,
                'content': _error(
                    'ConflictError',
                    'A price has changed: see the current price of each item named',
                    {'items': {'0': {'price_at_order': ['The current price is 31.99 USD.']}}},
                ),
            },
            '413': 'PayloadTooLarge',
            '415': 'UnsupportedMediaType',
            '422': {
                'description': 'The `Idempotency-Key` was used with a different body.',
                'content': _error(
                    'UnprocessableEntityError',
                    'This Idempotency-Key was used with a different request body',
                ),
            },
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders', 'GET'): {
        'tags': ['orders'],
        'summary': 'List orders',
        'description': LIST_DESCRIPTION + ' A customer sees only their own orders.',
        'parameters': [{'in': 'query', 'schema': schemas.ListQuerySchema}],
        'responses': {
            '200': _list('A page of orders.'),
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': "A customer asking for another user's orders (`user_id`).",
                'content': _error('ForbiddenError', 'Not allowed for this role'),
            },
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders/{order_id}', 'GET'): {
        'tags': ['orders'],
        'summary': 'Read an order',
        'parameters': [_path_param('order_id')],
        'responses': {
            '200': _order('The order.'),
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '404': 'NotFound',
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders/{order_id}', 'PUT'): {
        'tags': ['orders'],
        'summary': "Change an order's status or addresses",
        'description': 'A status, new addresses, or both in one change (one version, one '
        'history entry, one event). Which details go with which status is in the schema. '
        'Addresses change until the order ships (`pending`, `paid`; else a 409), by its '
        'customer or staff (a service token: 403); only the tax is computed again, at the new '
        'destination; the order keeps its lines, discounts and shipping method and price, and '
        'a new country must be one its method ships to (409 at '
        '`errors.shipping_address.country`); a paid order, or one a card payment was started '
        'for, whose total would change is a 409 and nothing changes. The same addresses again '
        'change nothing. Setting the '
        'status the order already has is a 200 that changes '
        'nothing (tracking given then is not kept: it comes with the move to '
        '`shipped`). A detail sent with another status than its own is a '
        "400. Moving to `shipped` sets the order's `shipment`; to `cancelled` "
        'publishes `order_cancelled` with `refund_due`. Checked in this order: '
        '415; 400 (id); 413 or 400 (body); 400 or 412 (`If-Match`); 404; 412 '
        '(version); 409 (lifecycle). Not in the schema: a `tracking_url` host outside '
        "`TRACKING_URL_HOSTS` when it is set (400), an address its country's rules refuse "
        "(400), the lifecycle, the order's state and the version.",
        'parameters': [_path_param('order_id'), IF_MATCH],
        'requestBody': _json_body(
            'StatusChange',
            'The new status, with the details its status may carry, and/or new addresses.',
            {
                'status': 'shipped',
                'carrier': 'DHL Express',
                'tracking_number': 'JD014600006281',
                'tracking_url': 'https://www.dhl.com/track?id=JD014600006281',
            },
        ),
        'responses': {
            '200': _order('The order as it now is, with its new ETag.'),
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': 'A customer setting any status but `cancelled`; a service '
                "token setting `paid` or cancelling a `paid` order (money moves are staff's), "
                'or changing an address.',
                'content': _error('ForbiddenError', 'Not allowed for this role'),
            },
            '404': 'NotFound',
            '409': {
                'description': 'The lifecycle forbids the move (the message names both '
                'states); addresses of an order that shipped or ended; a new shipping country '
                "the order's method does not ship to; a total that would change on a paid "
                'order or one being paid by card.',
                'content': _error('ConflictError', "Cannot change status from 'paid' to 'pending'"),
            },
            '412': {
                'description': '`If-Match` is not the current version, or is a weak tag.',
                'content': _error('PreconditionFailed', 'Order 1 is at version 2, not 1'),
            },
            '413': 'PayloadTooLarge',
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders/{order_id}', 'DELETE'): {
        'tags': ['orders'],
        'summary': 'Delete an order',
        'description': 'Its items go with it; their ids are never used again. Takes no '
        "`If-Match`. Not while a refund of the order is `pending` (a cancellation's or "
        "staff's refund Stripe has not taken yet, sent later by the refund relay): the "
        'refund would go with the order, and the money owed with it. Delete it once the '
        'refund has succeeded or failed (`GET /orders/{order_id}/refunds`).',
        'parameters': [_path_param('order_id')],
        'responses': {
            '204': {'description': 'Deleted; no body.'},
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': 'A customer or a service token: only staff deletes.',
                'content': _error('ForbiddenError', 'Not allowed for this role'),
            },
            '404': 'NotFound',
            '409': {
                'description': 'A refund of the order is still pending; nothing changes.',
                'content': _error(
                    'ConflictError',
                    'A refund of this order is still being sent; delete it once it has '
                    'succeeded or failed',
                ),
            },
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders/{order_id}/history', 'GET'): {
        'tags': ['orders'],
        'summary': "An order's changes",
        'description': 'Every version of the order, oldest first: its creation, then one '
        'entry per change, each written in the same transaction as the change. '
        "Under the order's access rules: a customer gets a 404 for another "
        "user's order. A deleted order's history is gone with it.",
        'parameters': [_path_param('order_id')],
        'responses': {
            '200': {
                'description': 'The entries, oldest first.',
                'content': {
                    'application/json': {'schema': 'OrderHistory', 'example': HISTORY_EXAMPLE}
                },
            },
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '404': 'NotFound',
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/users/{user_id}/orders/export', 'GET'): {
        'tags': ['orders'],
        'summary': "Export one user's orders as CSV",
        'description': 'RFC 4180 CSV, CRLF line ends: a header row, then one row per item, '
        'newest order first. Amounts have two decimals. A cell that would '
        "start with =, +, -, @, a tab or a carriage return gets a leading '. "
        'Dates are whole UTC days, both inclusive. A customer exports only '
        'their own orders.',
        'parameters': [
            _path_param('user_id'),
            {'in': 'query', 'schema': schemas.ExportQuerySchema},
        ],
        'responses': {
            '200': {
                'description': 'The CSV, as an attachment.',
                'headers': {
                    'Content-Disposition': {
                        'description': '`attachment; filename="orders-<user_id>.csv"`.',
                        'required': True,
                        'schema': {
                            'type': 'string',
                            'pattern': '^attachment; filename="orders-[0-9]+\\.csv"$',
                        },
                    }
                },
                'content': {'text/csv': {'schema': {'type': 'string'}, 'example': EXPORT_EXAMPLE}},
            },
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': "A customer asking for another user's orders.",
                'content': _error('ForbiddenError', 'Not allowed for this role'),
            },
            '413': {
                'description': 'More than 10,000 orders between the dates (or more text '
                'than one answer may carry): narrow the dates.',
                'content': _error(
                    'RequestEntityTooLargeError',
                    '10001 orders match, more than the 10000 one export '
                    'may hold: narrow the dates (from, to) and export in '
                    'parts',
                ),
            },
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/users/{user_id}/orders', 'GET'): {
        'tags': ['orders'],
        'summary': "List one user's orders",
        'description': 'As `GET /orders?user_id=`, without `status`. A user with no orders '
        'has an empty list, not a 404. ' + LIST_DESCRIPTION,
        'parameters': [
            _path_param('user_id'),
            {'in': 'query', 'schema': schemas.UserListQuerySchema},
        ],
        'responses': {
            '200': _list("A page of the user's orders."),
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': "A customer asking for another user's orders.",
                'content': _error('ForbiddenError', 'Not allowed for this role'),
            },
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/products/{product_id}', 'PUT'): {
        'tags': ['catalog'],
        'summary': 'Create or replace a product',
        'description': 'Staff only. Replaces every field the body names and leaves out '
        '(`sku`, `active`, `stock` take their defaults). `reserved` is the '
        "service's own count and is never written; `on_hand` may be set below "
        'it (then `available` is 0). `If-Match` makes the write conditional.',
        'parameters': [{'in': 'path', 'schema': _ProductId}, IF_MATCH],
        'requestBody': _json_body(
            'NewProduct',
            'The product.',
            {
                'name': 'Blue mug',
                'sku': 'MUG-BLUE',
                'unit_price': 29.99,
                'currency': 'USD',
                'stock': {'on_hand': 40},
            },
        ),
        'responses': {
            '200': _product('Replaced.'),
            '201': _product('Created.'),
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': 'Not staff.',
                'content': _error('ForbiddenError', 'Only staff may change the catalog'),
            },
            '409': {
                'description': "The `sku` is another product's.",
                'content': _error(
                    'ConflictError',
                    "SKU 'MUG-BLUE' belongs to another product",
                    {'sku': ['Already the SKU of product 7.']},
                ),
            },
            '412': {
                'description': '`If-Match` is not the current version (or the product does '
                'not exist yet), or is a weak tag.',
                'content': _error('PreconditionFailed', 'Product 101 is at version 2, not 1'),
            },
            '413': 'PayloadTooLarge',
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/products/{product_id}', 'GET'): {
        'tags': ['catalog'],
        'summary': 'Read a product',
        'description': 'Any valid token. A customer gets a 404 for a retired product and '
        'sees only `available` of its stock.',
        'parameters': [{'in': 'path', 'schema': _ProductId}],
        'responses': {
            '200': _product('The product.'),
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '404': {
                'description': 'No such product (or, for a customer, a retired one).',
                'content': _error('NotFoundError', 'Product not found'),
            },
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/products', 'GET'): {
        'tags': ['catalog'],
        'summary': 'List products',
        'description': 'By `product_id`, ascending; paged like the order lists (`page` or '
        '`cursor`, with `page_size`). A customer sees active products only '
        '(`active=false` is a 403 for them).',
        'parameters': [{'in': 'query', 'schema': catalog_schemas.ProductListQuerySchema}],
        'responses': {
            '200': {
                'description': 'A page of products.',
                'content': {
                    'application/json': {
                        'schema': 'ProductList',
                        'example': {
                            'products': [PRODUCT_EXAMPLE],
                            'total': 1,
                            'page': 1,
                            'page_size': 10,
                            'next_cursor': None,
                        },
                    }
                },
            },
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': 'A customer asking for retired products.',
                'content': _error('ForbiddenError', 'A customer sees active products only'),
            },
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders/{order_id}/payment', 'POST'): {
        'tags': ['payments'],
        'summary': 'Pay an order by card',
        'description': 'The Stripe PaymentIntent of a `pending` order, for its total in its '
        "currency's minor unit, with `metadata.order_id`: made on the first "
        'call (with an idempotency key derived from the order), the same one '
        'on every call after. Confirm it with a card in the browser '
        "(Stripe.js); the order becomes `paid` when Stripe's webhook says "
        "the payment succeeded. The order's customer or staff.",
        'parameters': [_path_param('order_id')],
        'responses': {
            '200': {
                'description': 'The PaymentIntent to confirm.',
                'content': {
                    'application/json': {
                        'schema': 'PaymentIntent',
                        'example': {
                            'payment_intent_id': 'pi_3Q1',
                            'client_secret': 'pi_3Q1_secret_x',
                            'amount': 109.97,
                            'currency': 'USD',
                            'status': 'requires_payment_method',
                        },
                    }
                },
            },
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': 'A service token.',
                'content': _error('ForbiddenError', 'Only the customer or staff may pay an order'),
            },
            '404': 'NotFound',
            '409': {
                'description': 'The order is not `pending`, or has nothing to pay.',
                'content': _error(
                    'ConflictError', "Order 1 is 'paid': only a pending order takes a payment"
                ),
            },
            '415': 'UnsupportedMediaType',
            '501': 'NotConfigured',
            '502': 'ProviderRefused',
            '503': 'ProviderUnavailable',
        },
    },
    ('/webhooks/stripe', 'POST'): {
        'tags': ['payments'],
        'summary': "Stripe's webhook",
        'description': 'For Stripe only: no bearer token; the `Stripe-Signature` header is '
        'checked over the raw body (300 s tolerance). Each event id is handled '
        'at most once (a redelivery is a 200 that changes nothing). '
        '`payment_intent.succeeded` pays a pending order whose amount and '
        'currency match, and refunds in full a payment for an order that can '
        'no longer take one; `charge.refunded` and `refund.*` update the '
        'refund; any other event is acknowledged.',
        'parameters': [
            {
                'name': 'Stripe-Signature',
                'in': 'header',
                'required': True,
                'schema': {'type': 'string', 'minLength': 1},
                'example': 't=1733390000,v1=5257a8...',
            }
        ],
        'requestBody': {
            'required': True,
            'description': 'A Stripe event, as Stripe sends it.',
            'content': {'application/json': {'schema': {'type': 'object'}}},
        },
        'responses': {
            '200': {
                'description': 'Handled, or nothing to do.',
                'content': {
                    'application/json': {'schema': 'WebhookAnswer', 'example': {'received': True}}
                },
            },
            '400': {
                'description': 'A missing or bad signature, a stale timestamp, or a body '
                'that is not an event: nothing changes.',
                'content': _error('BadRequestError', 'Invalid Stripe-Signature'),
            },
            '413': 'PayloadTooLarge',
            '415': 'UnsupportedMediaType',
            '501': 'NotConfigured',
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders/{order_id}/refunds', 'POST'): {
        'tags': ['payments'],
        'summary': 'Refund an order',
        'description': 'Staff only. `amount`, or `items` (quantity x price_at_order of each '
        'line, never more of a line than was ordered, counting earlier '
        'refunds), or neither: everything still refundable. Never more than '
        'paid less refunded or being refunded (409). The refund is recorded, '
        'then sent to Stripe with an idempotency key derived from its id '
        '(when Stripe is down or slow, the refund relay sends it later); a '
        'payment taken outside the service is refunded at once. The answer is '
        'the refund as recorded: follow `Location` for its outcome.',
        'parameters': [_path_param('order_id'), IDEMPOTENCY_KEY],
        'requestBody': _json_body(
            'RefundRequest', 'What to refund.', {'amount': 10.0, 'reason': 'Scratched mug'}
        ),
        'responses': {
            '201': {
                'description': 'Recorded (or, with `Idempotent-Replayed: true`, the replay '
                'of the first request with this `Idempotency-Key`).',
                'headers': {
                    'Location': {
                        'description': '`/orders/{order_id}/refunds/{refund_id}`.',
                        'required': True,
                        'schema': {'type': 'string'},
                    },
                    'Idempotent-Replayed': 'Idempotent-Replayed',
                },
                'content': {'application/json': {'schema': 'Refund', 'example': REFUND_EXAMPLE}},
            },
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '403': {
                'description': 'Not staff.',
                'content': _error('ForbiddenError', 'Only staff may refund'),
            },
            '404': 'NotFound',
            '409': {
                'description': 'More than is left to refund (or of a line), nothing paid, '
                'or the same `Idempotency-Key` still in flight.',
                'content': _error('ConflictError', 'Order 1 has nothing left to refund'),
            },
            '413': 'PayloadTooLarge',
            '415': 'UnsupportedMediaType',
            '422': {
                'description': 'The `Idempotency-Key` was used with a different body.',
                'content': _error(
                    'UnprocessableEntityError',
                    'This Idempotency-Key was used with a different request body',
                ),
            },
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders/{order_id}/refunds', 'GET'): {
        'tags': ['payments'],
        'summary': "An order's refunds",
        'description': "Oldest first, under the order's read rules.",
        'parameters': [_path_param('order_id')],
        'responses': {
            '200': {
                'description': 'The refunds.',
                'content': {
                    'application/json': {'schema': 'RefundList', 'example': [REFUND_EXAMPLE]}
                },
            },
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '404': 'NotFound',
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/orders/{order_id}/refunds/{refund_id}', 'GET'): {
        'tags': ['payments'],
        'summary': 'One refund',
        'parameters': [_path_param('order_id'), _path_param('refund_id')],
        'responses': {
            '200': {
                'description': 'The refund.',
                'content': {'application/json': {'schema': 'Refund', 'example': REFUND_EXAMPLE}},
            },
            '400': 'BadRequest',
            '401': 'Unauthorized',
            '404': 'NotFound',
            '415': 'UnsupportedMediaType',
            '503': 'ServiceUnavailable',
        },
    },
    ('/health', 'GET'): {
        'tags': ['service'],
        'summary': 'Is the service up?',
        'description': 'Runs `SELECT 1` on the database. Its own shape, not the error '
        'shape: what load balancers and uptime checks expect.',
        'responses': {
            '200': {
                'description': 'The database answers.',
                'content': {
                    'application/json': {
                        'schema': 'Health',
                        'example': {'status': 'ok', 'database': 'ok', 'version': __version__},
                    }
                },
            },
            '415': 'UnsupportedMediaType',
            '503': {
                'description': 'The database cannot be reached.',
                'headers': {'Retry-After': 'Retry-After'},
                'content': {
                    'application/json': {
                        'schema': 'Health',
                        'example': {
                            'status': 'error',
                            'database': 'unreachable',
                            'version': __version__,
                        },
                    }
                },
            },
        },
    },
    ('/openapi.json', 'GET'): {
        'tags': ['service'],
        'summary': 'This document',
        'description': 'OpenAPI 3, generated from the schemas that validate requests.',
        'responses': {
            '200': {
                'description': 'The OpenAPI document.',
                'content': {'application/json': {'schema': {'type': 'object'}}},
            },
            '415': 'UnsupportedMediaType',
        },
    },
    ('/docs', 'GET'): {
        'tags': ['service'],
        'summary': 'This document, rendered',
        'description': 'Swagger UI for this document: one self-contained HTML page (no '
        'asset from elsewhere), so it works offline.',
        'responses': {
            '200': {
                'description': 'The HTML page.',
                'headers': {
                    'Content-Security-Policy': {
                        'description': 'Only its own inline script and style run, and '
                        'requests go only to where the page came from.',
                        'schema': {'type': 'string'},
                    }
                },
                'content': {'text/html': {'schema': {'type': 'string'}}},
            },
            '415': 'UnsupportedMediaType',
        },
    },
}
OPERATIONS.update(openapi_totals.operations(IF_MATCH))
OPERATIONS.update(openapi_returns.operations(IF_MATCH, IDEMPOTENCY_KEY, _path_param, _json_body))
FIELD_DESCRIPTIONS.update(openapi_returns.FIELD_DESCRIPTIONS)
REQUESTS.update(openapi_returns.REQUESTS)


def _money_properties(self, field, **kwargs):
    """Money is a marshmallow Field of its own: a JSON number, checked, never rounded."""
    if isinstance(field, schemas.Money):
        return {
            'type': 'number',
            'minimum': 0,
            'maximum': float(money.MAX_MONEY),
            'multipleOf': 0.01,
            'description': 'An exact amount: at most two decimal places (29.999 is '
            'refused, never rounded).',
        }
    return {}


def _text_properties(self, field, **kwargs):
    """A string field's characters, as its validators refuse them."""
    if openapi_rules.is_email(field.validators):
        if schemas._plain_address not in field.validators:
            raise SystemExit(f'{field.name}: EMAIL_PATTERN states Email with _plain_address only')
        return {'pattern': openapi_rules.EMAIL_PATTERN}
    return openapi_rules.text_properties(field.validators)


def _described(self, field, **kwargs):
    for schema in type(field.parent).__mro__:
        description = FIELD_DESCRIPTIONS.get(schema, {}).get(field.name)
        if description:
            return {'description': description}
    return {}


def _key_names(self, field, **kwargs):
    """A dict's keys, as its key field's rules say (a tax rate's classes)."""
    if isinstance(field, fields.Dict) and field.key_field is not None:
        return {'propertyNames': self.field2property(field.key_field)}
    return {}


def _empty_query_value(self, field, ret, **kwargs):
    if ret.get('in') == 'query':
        # schemas.load_list_query reads `?status=` as no filter, as a form sends it.
        return {'allowEmptyValue': True}
    return {}


def build():
    """The document, as a dict, for the routes the app has now."""
    # No name resolver: every schema of the document is registered by name below.
    plugin = MarshmallowPlugin(schema_name_resolver=lambda schema: None)
    spec = APISpec(
        title='Orders service',
        version=__version__,
        openapi_version='3.1.0',
        plugins=[plugin],
        info={
            'description': DESCRIPTION_TEMPLATE.replace('{unicode}', openapi_rules.UNICODE_VERSION)
        },
        servers=[
            {'url': '.', 'description': 'The API that serves this document'},
            {'url': 'http://localhost:8000', 'description': '`make run`'},
        ],
        tags=[
            {'name': 'orders', 'description': 'Orders and their items'},
            {'name': 'payments', 'description': 'Card payments and refunds'},
            {'name': 'returns', 'description': 'Goods sent back: approved, received, refunded'},
            {'name': 'catalog', 'description': 'Products: prices and stock'},
            {'name': 'service', 'description': 'Health and this reference'},
        ],
    )
    plugin.converter.add_attribute_function(_money_properties)
    plugin.converter.add_attribute_function(_text_properties)
    plugin.converter.add_attribute_function(_described)
    plugin.converter.add_attribute_function(_key_names)
    plugin.converter.add_attribute_function(openapi_totals.address_country)
    plugin.converter.add_parameter_attribute_function(_empty_query_value)
    plugin.map_to_openapi_type(catalog_schemas.QueryBoolean, 'boolean', None)

    spec.components.security_scheme(
        'bearerAuth',
        {
            'type': 'http',
            'scheme': 'bearer',
            'bearerFormat': 'JWT',
            'description': 'An RS256 JWT from the issuer (`AUTH_ISSUER`). Roles: customer (the '
            "user id claim), staff, service (see each operation's 403).",
        },
    )
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    for name, cls in REQUESTS.items():
        spec.components.schema(name, schema=cls)
    spec.components.schema('OrderItem', schema=response_schemas.OrderItemSchema)
    spec.components.schema('Shipment', schema=response_schemas.ShipmentSchema)
    spec.components.schema('Order', schema=response_schemas.OrderSchema)
    spec.components.schema('Actor', schema=response_schemas.ActorSchema)
    spec.components.schema('HistoryEntry', schema=response_schemas.HistoryEntrySchema)
    spec.components.schema(
        'OrderHistory',
        {
            'type': 'array',
            'items': {'$ref': '#/components/schemas/HistoryEntry'},
            'minItems': 1,
            'description': 'Oldest first; at most one entry per version.',
        },
    )
    spec.components.schema('OrderList', schema=response_schemas.OrderListSchema)
    spec.components.schema('Stock', schema=response_schemas.StockSchema)
    spec.components.schema('Product', schema=response_schemas.ProductSchema)
    spec.components.schema('ProductList', schema=response_schemas.ProductListSchema)
    spec.components.schema('Error', schema=response_schemas.ErrorSchema)
    spec.components.schema('Health', schema=response_schemas.HealthSchema)
    spec.components.schema('PaymentIntent', schema=response_schemas.PaymentIntentSchema)
    spec.components.schema('Refund', schema=response_schemas.RefundSchema)
    spec.components.schema(
        'RefundList',
        {
            'type': 'array',
            'items': {'$ref': '#/components/schemas/Refund'},
            'description': 'Oldest first.',
        },
    )
    spec.components.schema('WebhookAnswer', schema=response_schemas.WebhookAnswerSchema)
    openapi_totals.register(spec)
    openapi_returns.register(spec)
    for name, response in RESPONSES.items():
        spec.components.response(name, response)

    routes = {(path, method) for path, methods in service.app.routes.items() for method in methods}
    if routes != set(OPERATIONS):
        raise SystemExit(
            'Routes and tools/openapi.py disagree: undescribed '
            f'{sorted(routes - set(OPERATIONS))}, gone '
            f'{sorted(set(OPERATIONS) - routes)}'
        )
    for path, methods in service.app.routes.items():
        operations = {}
        for method, entry in methods.items():
            operation = dict(OPERATIONS[(path, method)], operationId=entry.view_name)
            operation['security'] = [] if (path, method) in PUBLIC else BEARER
            operations[method.lower()] = operation
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    components = document['components']['schemas']
    for name, cls in {**REQUESTS, **openapi_totals.REQUESTS}.items():
        components[name].update(openapi_rules.rule_keywords(cls))
    # The order a reader expects; apispec puts `openapi` after the paths.
    first = ['openapi', 'info', 'servers', 'tags', 'paths', 'components']
    return {key: document[key] for key in first + sorted(set(document) - set(first))}


def render(document):
    return json.dumps(document, indent=2, ensure_ascii=False) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--check', action='store_true', help='fail if a committed copy differs from a fresh one'
    )
    args = parser.parse_args(argv)
    text = render(build())
    stale = []
    for path in OUTPUTS:
        current = Path(path).read_text(encoding='utf-8') if os.path.exists(path) else None
        if current == text:
            continue
        if args.check:
            stale.append(os.path.relpath(path, ROOT))
            continue
        with open(path, 'w', encoding='utf-8') as out:
            out.write(text)
        print(f'wrote {os.path.relpath(path, ROOT)}')
    if stale:
        print(f'stale: {", ".join(stale)}; run make openapi', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
