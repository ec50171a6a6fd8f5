"""The OpenAPI description of the operations of addresses, shipping, taxes
and discounts (tools/openapi.py adds them to its own and registers the
components here)."""

import functools
import itertools
import string

from marshmallow import Schema, fields, validate

from chalicelib.orders import addresses, schemas
from tools import response_schemas

TAX_RATE_EXAMPLE = {
    'zone': 'US-IL',
    'name': 'Illinois sales tax',
    'rates': {'standard': 0.0625, 'reduced': 0.01},
    'shipping': True,
    'updated_at': '2026-12-07T10:00:00.000000Z',
}
SHIPPING_METHOD_EXAMPLE = {
    'code': 'standard',
    'name': 'Standard, 3-5 days',
    'price': 4.99,
    'currency': 'USD',
    'countries': ['CA', 'US'],
    'free_over': 100.0,
    'active': True,
    'version': 1,
    'updated_at': '2026-12-07T10:00:00.000000Z',
}
DISCOUNT_EXAMPLE = {
    'code': 'SUMMER10',
    'type': 'percent',
    'value': 10,
    'currency': None,
    'min_subtotal': None,
    'starts_at': '2026-06-01T00:00:00Z',
    'ends_at': '2026-09-01T00:00:00Z',
    'usage_limit': 1000,
    'per_customer_limit': 1,
    'product_ids': None,
    'active': True,
    'times_used': 12,
    'version': 1,
    'updated_at': '2026-12-07T10:00:00.000000Z',
}
_ZONE_PATTERN = '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'


class _Zone(Schema):
    zone = fields.String(
        required=True,
        validate=validate.Regexp(_ZONE_PATTERN),
        metadata={
            'description': 'A country (ISO 3166-1 alpha-2: DE) or a country and its region '
            '(ISO 3166-2: US-CA).'
        },
    )


class _Code(Schema):
    code = fields.String(
        required=True,
        validate=validate.Regexp('^[a-z0-9-]{1,32}$'),
        metadata={'description': "The method's code: 1..32 of a-z 0-9 -."},
    )


class _DiscountCode(Schema):
    code = fields.String(
        required=True,
        validate=validate.Regexp('^[A-Za-z0-9_-]{3,32}$'),
        metadata={'description': 'The code: 3..32 of A-Z a-z 0-9 - _, compared upper-case.'},
    )


def _discount(description):
    return {
        'description': description,
        'headers': {'ETag': 'ETag'},
        'content': {'application/json': {'schema': 'Discount', 'example': DISCOUNT_EXAMPLE}},
    }


_NOT_STAFF_CODES = {
    'description': 'Not staff.',
    'content': {
        'application/json': {
            'schema': 'Error',
            'example': {
                'Code': 'ForbiddenError',
                'Message': 'Only staff may read or change discount codes',
            },
        }
    },
}


def _method(description):
    return {
        'description': description,
        'headers': {'ETag': 'ETag'},
        'content': {
            'application/json': {'schema': 'ShippingMethod', 'example': SHIPPING_METHOD_EXAMPLE}
        },
    }


def _error(code, message):
    return {'application/json': {'schema': 'Error', 'example': {'Code': code, 'Message': message}}}


_NOT_STAFF = {
    'description': 'Not staff.',
    'content': _error('ForbiddenError', 'Only staff may read or change tax rates'),
}
_NO_ZONE = {
    'description': 'No tax rates for this zone.',
    'content': _error('NotFoundError', 'No tax rates for this zone'),
}


def _tax_rate(description):
    return {
        'description': description,
        'content': {'application/json': {'schema': 'TaxRate', 'example': TAX_RATE_EXAMPLE}},
    }


_COMMON = {'401': 'Unauthorized', '415': 'UnsupportedMediaType', '503': 'ServiceUnavailable'}


def operations(if_match):
    """These operations; `if_match`: tools/openapi.py's If-Match parameter."""
    return {
        ('/orders/quote', 'POST'): {
            'tags': ['orders'],
            'summary': 'Quote an order',
            'description': 'The body of `POST /orders`, under the same rules and roles: the '
            'order as it would be placed now, with every total, line, tax and discount '
            '(`order_id`, `version` and the times null), or the 400/403/409 placing it would '
            'get. Nothing is stored, reserved or counted, and no event is published. Send its '
            '`order_total` as `expected_total` when placing the order: a total that has '
            'changed meanwhile is then a 409 instead of a surprise.',
            'requestBody': {
                'required': True,
                'description': 'The order to quote.',
                'content': {'application/json': {'schema': 'NewOrder'}},
            },
            'responses': {
                '200': {
                    'description': 'The order as it would be placed.',
                    'content': {'application/json': {'schema': 'QuotedOrder'}},
                },
                '400': 'BadRequest',
                '403': {
                    'description': "Another user's id or email for a customer; a service token.",
                    'content': _error('ForbiddenError', 'Not allowed for this role'),
                },
                '409': {
                    'description': 'A price that changed, short stock, or an `expected_total` '
                    'that is not the total computed (`errors.expected_total` names it).',
                    'content': _error('ConflictError', 'The total is 116.84 USD, not 109.97 USD'),
                },
                '413': 'PayloadTooLarge',
                **_COMMON,
            },
        },
        ('/shipping-methods/{code}', 'PUT'): {
            'tags': ['shipping'],
            'summary': 'Create or replace a shipping method',
            'description': 'Staff only, like products: `version`, `ETag` and `If-Match`. '
            '`free_over`: a subtotal (after discounts, before tax) from which it costs 0. Once '
            "the shop has an active method, a customer's order must name one that ships to its "
            "address, in the order's currency; a placed order keeps the method's name and price "
            'as they were.',
            'parameters': [{'in': 'path', 'schema': _Code}, if_match],
            'requestBody': {
                'required': True,
                'description': 'The method.',
                'content': {
                    'application/json': {
                        'schema': 'NewShippingMethod',
                        'example': {
                            'name': 'Standard, 3-5 days',
                            'price': 4.99,
                            'currency': 'USD',
                            'countries': ['US', 'CA'],
                            'free_over': 100,
                        },
                    }
                },
            },
            'responses': {
                '200': _method('Replaced.'),
                '201': _method('Created.'),
                '400': 'BadRequest',
                '403': {
                    'description': 'Not staff.',
                    'content': _error('ForbiddenError', 'Only staff may change shipping methods'),
                },
                '412': {
                    'description': '`If-Match` is not the current version.',
                    'content': _error(
                        'PreconditionFailed', 'Shipping method standard is at version 2, not 1'
                    ),
                },
                '413': 'PayloadTooLarge',
                **_COMMON,
            },
        },
        ('/shipping-methods/{code}', 'GET'): {
            'tags': ['shipping'],
            'summary': 'Read a shipping method',
            'description': 'Any valid token; a customer gets a 404 for an inactive one.',
            'parameters': [{'in': 'path', 'schema': _Code}],
            'responses': {
                '200': _method('The method.'),
                '400': 'BadRequest',
                '404': {
                    'description': 'No such method (or, for a customer, an inactive one).',
                    'content': _error('NotFoundError', 'Shipping method not found'),
                },
                **_COMMON,
            },
        },
        ('/shipping-methods', 'GET'): {
            'tags': ['shipping'],
            'summary': 'List shipping methods',
            'description': 'Those that apply: active ones to a customer, filtered by `country` '
            'and `currency`; by code, paged like products (`page` or `cursor`, with '
            '`page_size`).',
            'parameters': [{'in': 'query', 'schema': schemas.ShippingMethodQuerySchema}],
            'responses': {
                '200': {
                    'description': 'A page of methods.',
                    'content': {
                        'application/json': {
                            'schema': 'ShippingMethodList',
                            'example': {
                                'shipping_methods': [SHIPPING_METHOD_EXAMPLE],
                                'total': 1,
                                'page': 1,
                                'page_size': 10,
                                'next_cursor': None,
                            },
                        }
                    },
                },
                '400': 'BadRequest',
                **_COMMON,
            },
        },
        ('/discounts/{code}', 'PUT'): {
            'tags': ['discounts'],
            'summary': 'Create or replace a discount code',
            'description': 'Staff only; `version`, `ETag` and `If-Match` as for products. '
            '`percent` takes `value` 0 < v <= 100; `fixed` takes `value` as money with its '
            '`currency`, shared across the eligible lines by largest remainder; '
            '`free_shipping` waives the shipping fee. `product_ids` limits it to those catalog '
            "products (default: every catalog line). Uses are counted in the order's own "
            'transaction, under `usage_limit` and `per_customer_limit`; a cancelled order and a '
            'deleted order that never shipped give theirs back.',
            'parameters': [{'in': 'path', 'schema': _DiscountCode}, if_match],
            'requestBody': {
                'required': True,
                'description': 'The code.',
                'content': {
                    'application/json': {
                        'schema': 'NewDiscount',
                        'example': {'type': 'percent', 'value': 10, 'usage_limit': 1000},
                    }
                },
            },
            'responses': {
                '200': _discount('Replaced.'),
                '201': _discount('Created.'),
                '400': 'BadRequest',
                '403': _NOT_STAFF_CODES,
                '412': {
                    'description': '`If-Match` is not the current version.',
                    'content': _error(
                        'PreconditionFailed', 'Discount SUMMER10 is at version 2, not 1'
                    ),
                },
                '413': 'PayloadTooLarge',
                **_COMMON,
            },
        },
        ('/discounts/{code}', 'GET'): {
            'tags': ['discounts'],
            'summary': 'Read a discount code',
            'description': 'Staff only (a customer never lists codes).',
            'parameters': [{'in': 'path', 'schema': _DiscountCode}],
            'responses': {
                '200': _discount('The code, with `times_used`.'),
                '400': 'BadRequest',
                '403': _NOT_STAFF_CODES,
                '404': {
                    'description': 'No such code.',
                    'content': _error('NotFoundError', 'Discount code not found'),
                },
                **_COMMON,
            },
        },
        ('/discounts', 'GET'): {
            'tags': ['discounts'],
            'summary': 'Every discount code',
            'description': 'Staff only. By code.',
            'responses': {
                '200': {
                    'description': 'Every code.',
                    'content': {
                        'application/json': {
                            'schema': 'DiscountList',
                            'example': {'discounts': [DISCOUNT_EXAMPLE], 'total': 1},
                        }
                    },
                },
                '403': _NOT_STAFF_CODES,
                **_COMMON,
            },
        },
        ('/tax-rates/{zone}', 'PUT'): {
            'tags': ['taxes'],
            'summary': "Create or replace a zone's tax rates",
            'description': 'Staff only. Flat rates by tax class (a product names its class; a '
            'line that names no catalog product is `standard`; a class the zone does not list '
            'is taxed at 0). `shipping`: whether the `standard` rate also taxes shipping. An '
            "order is taxed at the rates of its destination's most precise zone that has any "
            '(`US-CA`, else `US`).',
            'parameters': [{'in': 'path', 'schema': _Zone}],
            'requestBody': {
                'required': True,
                'description': 'The rates.',
                'content': {
                    'application/json': {
                        'schema': 'NewTaxRate',
                        'example': {
                            'name': 'Illinois sales tax',
                            'rates': {'standard': 0.0625},
                            'shipping': True,
                        },
                    }
                },
            },
            'responses': {
                '200': _tax_rate('Replaced.'),
                '201': _tax_rate('Created.'),
                '400': 'BadRequest',
                '403': _NOT_STAFF,
                '413': 'PayloadTooLarge',
                **_COMMON,
            },
        },
        ('/tax-rates/{zone}', 'GET'): {
            'tags': ['taxes'],
            'summary': "A zone's tax rates",
            'description': 'Staff only.',
            'parameters': [{'in': 'path', 'schema': _Zone}],
            'responses': {
                '200': _tax_rate('The rates.'),
                '400': 'BadRequest',
                '403': _NOT_STAFF,
                '404': _NO_ZONE,
                **_COMMON,
            },
        },
        ('/tax-rates/{zone}', 'DELETE'): {
            'tags': ['taxes'],
            'summary': 'Stop taxing a zone',
            'description': 'Staff only. Orders already placed keep their tax.',
            'parameters': [{'in': 'path', 'schema': _Zone}],
            'responses': {
                '204': {'description': 'Deleted; no body.'},
                '400': 'BadRequest',
                '403': _NOT_STAFF,
                '404': _NO_ZONE,
                **_COMMON,
            },
        },
        ('/tax-rates', 'GET'): {
            'tags': ['taxes'],
            'summary': 'Every zone taxed',
            'description': 'Staff only. By zone.',
            'responses': {
                '200': {
                    'description': 'Every zone.',
                    'content': {
                        'application/json': {
                            'schema': 'TaxRateList',
                            'example': {'tax_rates': [TAX_RATE_EXAMPLE], 'total': 1},
                        }
                    },
                },
                '403': _NOT_STAFF,
                **_COMMON,
            },
        },
    }


# The request bodies register() names: tools/openapi.py adds each one's
# field_rules.
REQUESTS = {
    'NewDiscount': schemas.DiscountSchema,
    'NewShippingMethod': schemas.ShippingMethodSchema,
    'NewAddress': schemas.AddressSchema,
    'NewTaxRate': schemas.TaxRateSchema,
}


@functools.cache
def address_countries():
    """The countries an address may be in: every alpha-2 code the address data
    knows (addresses.country_rules), listed when the document is made, so that
    the service never enumerates them."""
    codes = []
    for first, second in itertools.product(string.ascii_uppercase, repeat=2):
        try:
            addresses.country_rules(first + second)
        except addresses.AddressRefused:
            continue
        codes.append(first + second)
    return codes


def address_country(self, field, **kwargs):
    """An address's `country`, wherever the address is (a converter attribute
    function): an `enum` of address_countries()."""
    if isinstance(field.parent, schemas.AddressSchema) and field.name == 'country':
        return {'enum': address_countries()}
    return {}


def register(spec):
    spec.components.schema('NewDiscount', schema=schemas.DiscountSchema)
    spec.components.schema('Discount', schema=response_schemas.DiscountSchema)
    spec.components.schema('DiscountList', schema=response_schemas.DiscountListSchema)
    spec.components.schema('NewShippingMethod', schema=schemas.ShippingMethodSchema)
    spec.components.schema('ShippingMethod', schema=response_schemas.ShippingMethodSchema)
    spec.components.schema('ShippingMethodList', schema=response_schemas.ShippingMethodListSchema)
    spec.components.schema('QuotedOrder', schema=response_schemas.QuotedOrderSchema)
    spec.components.schema('NewAddress', schema=schemas.AddressSchema)
    spec.components.schema('NewTaxRate', schema=schemas.TaxRateSchema)
    spec.components.schema('TaxRate', schema=response_schemas.TaxRateSchema)
    spec.components.schema('TaxRateList', schema=response_schemas.TaxRateListSchema)
