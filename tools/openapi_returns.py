"""The OpenAPI description of returns (tools/openapi.py adds these operations
to its own and registers the components here)."""

from chalicelib.returns import schemas
from tools import response_schemas

RETURN_EXAMPLE = {
    'return_id': 3,
    'order_id': 7,
    'status': 'requested',
    'version': 1,
    'items': [
        {
            'order_item_id': 12,
            'quantity': 1,
            'reason': 'Too small',
            'received': None,
            'restocked': None,
        }
    ],
    'note': None,
    'deduction': 0,
    'refund_id': None,
    'created_at': '2026-12-07T10:00:00.000000Z',
    'updated_at': '2026-12-07T10:00:00.000000Z',
}
RECEIVED_EXAMPLE = {
    **RETURN_EXAMPLE,
    'status': 'received',
    'version': 3,
    'items': [{**RETURN_EXAMPLE['items'][0], 'received': 1, 'restocked': True}],
    'deduction': 4.99,
    'refund_id': 5,
    'updated_at': '2026-12-09T15:30:00.000000Z',
}
_NEW_RETURN_EXAMPLE = {'items': [{'order_item_id': 12, 'quantity': 1, 'reason': 'Too small'}]}
_RECEIPT_EXAMPLE = {
    'status': 'received',
    'items': [{'order_item_id': 12, 'received': 1, 'restock': True}],
    'deduction': 4.99,
    'reason': 'Return shipping',
}

FIELD_DESCRIPTIONS = {
    schemas.ReturnLineSchema: {
        'order_item_id': 'A line of this order: a JSON integer.',
        'quantity': 'How many of it go back: never more than the line holds less what its '
        'other returns (neither declined nor cancelled) hold.',
        'reason': 'Why, 1..500 characters, not blank; line breaks and tabs allowed.',
    },
    schemas.NewReturnSchema: {
        'items': 'The lines to send back, each once.',
        'note': 'Anything else to say, 1..500 characters, not blank.',
    },
    schemas.ReceivedLineSchema: {
        'order_item_id': 'A line of this return.',
        'received': 'How many of it arrived: 0..the units the return asked for.',
        'restock': 'Whether they go back on the shelf (`on_hand` of a tracked product).',
    },
    schemas.ReturnUpdateSchema: {
        'status': "The return's new status: the lifecycle decides whether the move is allowed.",
        'reason': 'Why: required with `declined` and with `deduction`; kept in the '
        "order's history. 1..500 characters, not blank.",
        'items': 'Only with `received`, and required with it: what arrived of every line of '
        'the return, each once.',
        'deduction': 'Only with `received`: kept off the refund (a return-shipping or '
        'restocking fee), in the order currency; with `reason`.',
    },
}
REQUESTS = {
    'NewReturnLine': schemas.ReturnLineSchema,
    'NewReturn': schemas.NewReturnSchema,
    'ReceivedLine': schemas.ReceivedLineSchema,
    'ReturnChange': schemas.ReturnUpdateSchema,
}


def _error(code, message):
    return {'application/json': {'schema': 'Error', 'example': {'Code': code, 'Message': message}}}


def _return(description, example=RETURN_EXAMPLE, **headers):
    return {
        'description': description,
        'headers': {'ETag': 'ETag', **headers},
        'content': {'application/json': {'schema': 'Return', 'example': example}},
    }


_COMMON = {
    '400': 'BadRequest',
    '401': 'Unauthorized',
    '404': 'NotFound',
    '415': 'UnsupportedMediaType',
    '503': 'ServiceUnavailable',
}


def operations(if_match, idempotency_key, path_param, json_body):
    """These operations, with tools/openapi.py's If-Match and Idempotency-Key
    parameters, path parameters and JSON bodies."""
    return {
        ('/orders/{order_id}/returns', 'POST'): {
            'tags': ['returns'],
            'summary': 'Open a return',
            'description': "The order's customer, for a `delivered` order within "
            '`RETURN_WINDOW_DAYS` of its delivery (0: customers cannot open returns); staff, '
            'for a `shipped` or `delivered` order at any time; a service token may not (403). '
            'Not in the schema, because the order decides: its status and the window (409), '
            'each line being one of its lines (400 at `errors.items.<i>.order_item_id`) and '
            'never returned beyond its quantity less what its other returns hold (409 at '
            '`errors.items.<i>.quantity`). Publishes `return_requested`. The return has its own '
            "`version`; the order's version and status do not change.",
            'parameters': [path_param('order_id'), idempotency_key],
            'requestBody': json_body('NewReturn', 'What goes back.', _NEW_RETURN_EXAMPLE),
            'responses': {
                **_COMMON,
                '201': _return(
                    'Opened (or, with `Idempotent-Replayed: true`, the replay of the first '
                    'request with this `Idempotency-Key`).',
                    Location={
                        'description': '`/orders/{order_id}/returns/{return_id}`.',
                        'required': True,
                        'schema': {'type': 'string'},
                    },
                    **{'Idempotent-Replayed': 'Idempotent-Replayed'},
                ),
                '403': {
                    'description': 'A service token.',
                    'content': _error(
                        'ForbiddenError', 'Only the customer or staff may open a return'
                    ),
                },
                '409': {
                    'description': 'The order is not delivered (shipped, for staff), the window '
                    'has closed, a line would be returned beyond its quantity, or the same '
                    '`Idempotency-Key` is still in flight.',
                    'content': _error(
                        'ConflictError', 'The return window of 30 days after delivery has closed'
                    ),
                },
                '413': 'PayloadTooLarge',
                '422': {
                    'description': 'The `Idempotency-Key` was used with a different body.',
                    'content': _error(
                        'UnprocessableEntityError',
                        'This Idempotency-Key was used with a different request body',
                    ),
                },
            },
        },
        ('/orders/{order_id}/returns', 'GET'): {
            'tags': ['returns'],
            'summary': "An order's returns",
            'description': "Oldest first, under the order's read rules.",
            'parameters': [path_param('order_id')],
            'responses': {
                **_COMMON,
                '200': {
                    'description': 'The returns.',
                    'content': {
                        'application/json': {'schema': 'ReturnList', 'example': [RETURN_EXAMPLE]}
                    },
                },
            },
        },
        ('/orders/{order_id}/returns/{return_id}', 'GET'): {
            'tags': ['returns'],
            'summary': 'One return',
            'parameters': [path_param('order_id'), path_param('return_id')],
            'responses': {**_COMMON, '200': _return('The return.')},
        },
        ('/orders/{order_id}/returns/{return_id}', 'PUT'): {
            'tags': ['returns'],
            'summary': 'Move a return',
            'description': '`requested` to `approved` or `declined` (staff); `requested` to '
            '`cancelled` (the customer, or staff), `approved` to `cancelled` (staff only: '
            'the goods may be on their way, 403 for the customer); '
            '`approved` to `received` (staff), with what arrived of every line and '
            'whether it goes back on the shelf. Receiving is one transaction: restocked units '
            'of tracked products go back to `on_hand`, and the refund of what was paid for '
            "the units received (tax and discount included, by each line's cumulative "
            'rounding, counting earlier refunds of the line) less `deduction` is recorded and '
            'then sent as every refund is (`refund_id`; null when nothing was paid or nothing '
            'is left after the deduction). `received`, `declined` and `cancelled` are final. '
            'Not in the schema, because the return decides: the move (409, naming both '
            'states), its version (`If-Match`, 412), the lines of the return (400 at '
            "`errors.items`), the deduction's decimals in the order currency (400). "
            'Publishes `return_approved`, `return_declined` or `return_received` (a '
            'cancellation publishes nothing).',
            'parameters': [path_param('order_id'), path_param('return_id'), if_match],
            'requestBody': json_body('ReturnChange', 'The move.', _RECEIPT_EXAMPLE),
            'responses': {
                **_COMMON,
                '200': _return('The return, moved.', RECEIVED_EXAMPLE),
                '403': {
                    'description': 'A customer asking for anything but `cancelled` of a '
                    '`requested` return, or a service token.',
                    'content': _error('ForbiddenError', 'A customer may only cancel a return'),
                },
                '409': {
                    'description': 'A move the lifecycle forbids.',
                    'content': _error(
                        'ConflictError',
                        "Cannot change the return's status from 'received' to 'approved': "
                        "'received' is final",
                    ),
                },
                '412': {
                    'description': '`If-Match` names another version of the return.',
                    'content': _error('PreconditionFailed', 'Return 3 is at version 2, not 1'),
                },
                '413': 'PayloadTooLarge',
            },
        },
    }


def register(spec):
    spec.components.schema('ReturnLine', schema=response_schemas.ReturnLineSchema)
    spec.components.schema('Return', schema=response_schemas.ReturnSchema)
    spec.components.schema(
        'ReturnList',
        {
            'type': 'array',
            'items': {'$ref': '#/components/schemas/Return'},
            'description': 'Oldest first.',
        },
    )
