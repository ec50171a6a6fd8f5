"""The OpenAPI document: current with the routes and schemas, valid OpenAPI 3,
and saying what the contract says about each operation."""

import json
import re
import string
from decimal import Decimal

import pytest
from marshmallow import ValidationError
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

import app as service
from chalicelib import __version__
from chalicelib.catalog import schemas as catalog_schemas
from chalicelib.core.errors import InvalidInput
from chalicelib.orders import schemas
from chalicelib.orders.lifecycle import STATUSES
from chalicelib.orders.schemas import MAX_ID
from tools import openapi

PROTECTED = {
    ('/orders', 'post'),
    ('/orders', 'get'),
    ('/orders/{order_id}', 'get'),
    ('/orders/{order_id}', 'put'),
    ('/orders/{order_id}', 'delete'),
    ('/orders/{order_id}/history', 'get'),
    ('/users/{user_id}/orders', 'get'),
    ('/users/{user_id}/orders/export', 'get'),
    ('/products/{product_id}', 'put'),
    ('/products/{product_id}', 'get'),
    ('/products', 'get'),
    ('/orders/quote', 'post'),
    ('/discounts/{code}', 'put'),
    ('/discounts/{code}', 'get'),
    ('/discounts', 'get'),
    ('/shipping-methods/{code}', 'put'),
    ('/shipping-methods/{code}', 'get'),
    ('/shipping-methods', 'get'),
    ('/tax-rates/{zone}', 'put'),
    ('/tax-rates/{zone}', 'get'),
    ('/tax-rates/{zone}', 'delete'),
    ('/tax-rates', 'get'),
    ('/orders/{order_id}/payment', 'post'),
    ('/orders/{order_id}/refunds', 'post'),
    ('/orders/{order_id}/refunds', 'get'),
    ('/orders/{order_id}/refunds/{refund_id}', 'get'),
    ('/orders/{order_id}/returns', 'post'),
    ('/orders/{order_id}/returns', 'get'),
    ('/orders/{order_id}/returns/{return_id}', 'get'),
    ('/orders/{order_id}/returns/{return_id}', 'put'),
}
# Stripe's webhook carries Stripe's signature instead of a bearer token.
PUBLIC = {
    ('/health', 'get'),
    ('/openapi.json', 'get'),
    ('/docs', 'get'),
    ('/webhooks/stripe', 'post'),
}
# Every answer each operation gives (403 where a role may be refused: a
# customer reading another user's order gets a 404, never a 403).
STATUSES_BY_OPERATION = {
    ('/products/{product_id}', 'put'): {
        '200',
        '201',
        '400',
        '401',
        '403',
        '409',
        '412',
        '413',
        '415',
        '503',
    },
    ('/products/{product_id}', 'get'): {'200', '400', '401', '404', '415', '503'},
    ('/products', 'get'): {'200', '400', '401', '403', '415', '503'},
    ('/shipping-methods/{code}', 'put'): {
        '200',
        '201',
        '400',
        '401',
        '403',
        '412',
        '413',
        '415',
        '503',
    },
    ('/shipping-methods/{code}', 'get'): {'200', '400', '401', '404', '415', '503'},
    ('/shipping-methods', 'get'): {'200', '400', '401', '415', '503'},
    ('/discounts/{code}', 'put'): {
        '200',
        '201',
        '400',
        '401',
        '403',
        '412',
        '413',
        '415',
        '503',
    },
    ('/discounts/{code}', 'get'): {'200', '400', '401', '403', '404', '415', '503'},
    ('/discounts', 'get'): {'200', '401', '403', '415', '503'},
    ('/orders/quote', 'post'): {'200', '400', '401', '403', '409', '413', '415', '503'},
    ('/tax-rates/{zone}', 'put'): {'200', '201', '400', '401', '403', '413', '415', '503'},
    ('/tax-rates/{zone}', 'get'): {'200', '400', '401', '403', '404', '415', '503'},
    ('/tax-rates/{zone}', 'delete'): {'204', '400', '401', '403', '404', '415', '503'},
    ('/tax-rates', 'get'): {'200', '401', '403', '415', '503'},
    ('/orders', 'post'): {'201', '400', '401', '403', '409', '413', '415', '422', '503'},
    ('/orders', 'get'): {'200', '400', '401', '403', '415', '503'},
    ('/orders/{order_id}', 'get'): {'200', '400', '401', '404', '415', '503'},
    ('/orders/{order_id}', 'put'): {
        '200',
        '400',
        '401',
        '403',
        '404',
        '409',
        '412',
        '413',
        '415',
        '503',
    },
    ('/orders/{order_id}', 'delete'): {'204', '400', '401', '403', '404', '409', '415', '503'},
    ('/orders/{order_id}/history', 'get'): {'200', '400', '401', '404', '415', '503'},
    ('/users/{user_id}/orders', 'get'): {'200', '400', '401', '403', '415', '503'},
    ('/users/{user_id}/orders/export', 'get'): {'200', '400', '401', '403', '413', '415', '503'},
    ('/orders/{order_id}/payment', 'post'): {
        '200',
        '400',
        '401',
        '403',
        '404',
        '409',
        '415',
        '501',
        '502',
        '503',
    },
    ('/webhooks/stripe', 'post'): {'200', '400', '413', '415', '501', '503'},
    ('/orders/{order_id}/refunds', 'post'): {
        '201',
        '400',
        '401',
        '403',
        '404',
        '409',
        '413',
        '415',
        '422',
        '503',
    },
    ('/orders/{order_id}/refunds', 'get'): {'200', '400', '401', '404', '415', '503'},
    ('/orders/{order_id}/refunds/{refund_id}', 'get'): {'200', '400', '401', '404', '415', '503'},
    ('/orders/{order_id}/returns', 'post'): {
        '201',
        '400',
        '401',
        '403',
        '404',
        '409',
        '413',
        '415',
        '422',
        '503',
    },
    ('/orders/{order_id}/returns', 'get'): {'200', '400', '401', '404', '415', '503'},
    ('/orders/{order_id}/returns/{return_id}', 'get'): {'200', '400', '401', '404', '415', '503'},
    ('/orders/{order_id}/returns/{return_id}', 'put'): {
        '200',
        '400',
        '401',
        '403',
        '404',
        '409',
        '412',
        '413',
        '415',
        '503',
    },
    ('/health', 'get'): {'200', '415', '503'},
    ('/openapi.json', 'get'): {'200', '415'},
    ('/docs', 'get'): {'200', '415'},
}


@pytest.fixture(scope='module')
def document():
    return openapi.build()


def operations(document):
    return {
        (path, method): operation
        for path, methods in document['paths'].items()
        for method, operation in methods.items()
    }


def resolve(document, value):
    while isinstance(value, dict) and '$ref' in value:
        *_, kind, name = value['$ref'].split('/')
        value = document['components'][kind][name]
    return value


def parameter(document, operation, name):
    [found] = [p for p in operation['parameters'] if p['name'] == name]
    return found


def test_committed_copies_are_the_generated_document(document):
    text = openapi.render(document)

    for path in openapi.OUTPUTS:
        with open(path, encoding='utf-8') as committed:
            assert committed.read() == text, f'{path} is stale: run make openapi'


def test_document_is_valid_openapi_3(document):
    assert document['openapi'].startswith('3.')
    validate(document)


def test_every_route_and_method_is_described(document):
    routes = {
        (path, method.lower()) for path, methods in service.app.routes.items() for method in methods
    }

    assert set(operations(document)) == routes == PROTECTED | PUBLIC
    assert {operation['operationId'] for operation in operations(document).values()} == {
        entry.view_name for methods in service.app.routes.values() for entry in methods.values()
    }


def test_every_operation_documents_each_answer_it_gives(document):
    for key, operation in operations(document).items():
        assert set(operation['responses']) == STATUSES_BY_OPERATION[key], key
        for status, response in operation['responses'].items():
            response = resolve(document, response)
            if status != '204':
                assert len(response['content']) == 1, (key, status)
                [media] = response['content'].values()
                assert 'schema' in media, (key, status)


def test_bearer_jwt_guards_all_but_health_the_reference_and_stripes_webhook(document):
    scheme = document['components']['securitySchemes']['bearerAuth']
    assert scheme == {**scheme, 'type': 'http', 'scheme': 'bearer', 'bearerFormat': 'JWT'}

    for key, operation in operations(document).items():
        if key in PUBLIC:
            assert operation['security'] == [], key
            assert '401' not in operation['responses']
        else:
            assert operation['security'] == [{'bearerAuth': []}], key
            unauthorized = resolve(document, operation['responses']['401'])
            assert unauthorized['headers']['WWW-Authenticate']


def test_errors_are_in_the_contract_shape(document):
    error = document['components']['schemas']['Error']
    for key, operation in operations(document).items():
        for status, response in operation['responses'].items():
            if status[0] in '45' and key != ('/health', 'get'):
                [media] = resolve(document, response)['content'].values()
                assert media['schema'] == {'$ref': '#/components/schemas/Error'}, (key, status)
    assert error['required'] == ['Code', 'Message']


def test_single_order_answers_carry_their_etag_and_creation_its_location(document):
    ops = operations(document)
    for key, status in [
        (('/orders', 'post'), '201'),
        (('/orders/{order_id}', 'get'), '200'),
        (('/orders/{order_id}', 'put'), '200'),
    ]:
        headers = ops[key]['responses'][status]['headers']
        assert resolve(document, headers['ETag'])['required'] is True
    created = ops[('/orders', 'post')]['responses']['201']['headers']
    assert set(created) == {'ETag', 'Location', 'Idempotent-Replayed'}
    for key, operation in ops.items():
        if '503' in operation['responses']:
            unavailable = resolve(document, operation['responses']['503'])
            assert 'Retry-After' in unavailable['headers'], key


def test_request_headers_are_described_with_their_rules(document):
    ops = operations(document)
    key = parameter(document, ops[('/orders', 'post')], 'Idempotency-Key')
    if_match = parameter(document, ops[('/orders/{order_id}', 'put')], 'If-Match')

    assert key['in'] == 'header' and key['schema']['maxLength'] == 255
    assert if_match['in'] == 'header' and not if_match['required']


def test_path_and_query_parameters_carry_their_bounds(document):
    ops = operations(document)
    for key, name in [
        (('/orders/{order_id}', 'get'), 'order_id'),
        (('/users/{user_id}/orders', 'get'), 'user_id'),
    ]:
        schema = parameter(document, ops[key], name)['schema']
        assert schema == {'type': 'integer', 'minimum': 1, 'maximum': MAX_ID}
    listing = ops[('/orders', 'get')]
    page_size = parameter(document, listing, 'page_size')['schema']
    assert (page_size['minimum'], page_size['maximum'], page_size['default']) == (1, 100, 10)
    assert parameter(document, listing, 'page')['schema']['minimum'] == 1
    assert parameter(document, listing, 'status')['schema']['enum'] == list(STATUSES)
    cursor = parameter(document, listing, 'cursor')['schema']
    assert cursor['maxLength'] == 512
    assert cursor['pattern'] == '^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$'
    user_listing = {p['name'] for p in ops[('/users/{user_id}/orders', 'get')]['parameters']}
    assert user_listing == {'user_id', 'page', 'page_size', 'cursor'}


def test_request_bodies_are_the_schemas_that_validate_them(document):
    schemas = document['components']['schemas']
    new_order, item = schemas['NewOrder'], schemas['NewOrderItem']

    assert new_order['required'] == ['items']  # a customer's order is their own
    assert new_order['additionalProperties'] is False
    assert (
        new_order['properties']['items']['minItems'],
        new_order['properties']['items']['maxItems'],
    ) == (1, 100)
    assert new_order['properties']['user_email']['maxLength'] == 254
    assert (
        item['properties']['quantity']['minimum'],
        item['properties']['quantity']['maximum'],
    ) == (1, 10000)
    assert item['properties']['price_at_order']['maximum'] == 99999999.99
    assert schemas['StatusChange']['properties']['status']['enum'] == list(STATUSES)


def test_status_change_describes_the_details_each_status_may_carry(document):
    change = document['components']['schemas']['StatusChange']['properties']

    assert (change['carrier']['minLength'], change['carrier']['maxLength']) == (1, 50)
    assert change['tracking_number']['maxLength'] == 100
    assert change['tracking_number']['pattern'] == '^[A-Za-z0-9-]+$'
    assert change['tracking_url']['maxLength'] == 500
    assert change['tracking_url']['pattern'].startswith('^[Hh][Tt][Tt][Pp][Ss]')
    assert (change['reason']['minLength'], change['reason']['maxLength']) == (1, 500)
    assert '`shipped`' in change['carrier']['description']
    assert '`cancelled`' in change['reason']['description']


def test_orders_carry_their_shipment_and_history_entries_their_author(document):
    schemas = document['components']['schemas']

    assert 'shipment' in schemas['Order']['required']
    assert set(schemas['Shipment']['required']) == {
        'carrier',
        'tracking_number',
        'tracking_url',
        'shipped_at',
    }
    assert set(schemas['HistoryEntry']['required']) == {'version', 'status', 'at', 'by'}
    assert schemas['OrderHistory']['type'] == 'array'


def test_export_answers_csv_as_an_attachment_between_two_dates(document):
    export = operations(document)[('/users/{user_id}/orders/export', 'get')]
    answer = export['responses']['200']

    assert list(answer['content']) == ['text/csv']
    assert answer['headers']['Content-Disposition']['required'] is True
    assert {p['name'] for p in export['parameters']} == {'user_id', 'from', 'to'}
    for name in ('from', 'to'):
        found = parameter(document, export, name)
        assert found['schema']['format'] == 'date' and not found['required']


def test_document_reports_the_version_the_service_reports(document):
    assert document['info']['version'] == __version__


def valid(document, name, value):
    schema = {'$ref': f'#/components/schemas/{name}', 'components': document['components']}
    return OAS31Validator(schema, format_checker=None).is_valid(value)


def test_status_details_go_only_with_their_status_and_carrier_with_number(document):
    shipped = {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'JD-1'}

    assert valid(document, 'StatusChange', shipped)
    assert valid(document, 'StatusChange', {'status': 'cancelled', 'reason': 'Late'})
    assert not valid(document, 'StatusChange', {**shipped, 'status': 'paid'})
    assert not valid(document, 'StatusChange', {'status': 'shipped', 'reason': 'Late'})
    assert not valid(document, 'StatusChange', {'status': 'shipped', 'carrier': 'DHL'})
    assert not valid(document, 'StatusChange', {'status': 'shipped', 'tracking_number': 'J'})
    url = {'status': 'shipped', 'tracking_url': 'https://track.example.com/JD-1'}
    assert not valid(document, 'StatusChange', url)
    assert valid(document, 'StatusChange', {**shipped, **url})


def test_a_status_change_carries_a_status_or_addresses_or_both(document):
    illinois = {
        'name': 'Ada',
        'line1': '12 Main St',
        'city': 'Springfield',
        'region': 'IL',
        'postal_code': '62704',
        'country': 'US',
    }

    assert not valid(document, 'StatusChange', {})
    assert valid(document, 'StatusChange', {'shipping_address': illinois})
    assert valid(document, 'StatusChange', {'billing_address': None})
    assert valid(document, 'StatusChange', {'status': 'paid', 'billing_address': illinois})
    assert not valid(document, 'StatusChange', {'shipping_address': None})
    assert not valid(document, 'StatusChange', {'shipping_address': illinois, 'carrier': 'DHL'})


def test_a_refund_is_an_amount_or_items_not_both(document):
    items = [{'order_item_id': 1, 'quantity': 1}]

    assert valid(document, 'RefundRequest', {})
    assert valid(document, 'RefundRequest', {'amount': 10})
    assert valid(document, 'RefundRequest', {'items': items})
    assert not valid(document, 'RefundRequest', {'amount': 10, 'items': items})


def test_a_product_is_priced_in_its_currencys_decimals_and_stock_is_null_or_on_hand(document):
    product = {'name': 'Mug', 'unit_price': 12, 'currency': 'JPY'}

    assert valid(document, 'NewProduct', product)
    assert not valid(document, 'NewProduct', {**product, 'unit_price': 12.5})
    assert valid(document, 'NewProduct', {**product, 'currency': 'USD', 'unit_price': 12.5})
    assert valid(document, 'NewProduct', {**product, 'stock': None})
    assert valid(document, 'NewProduct', {**product, 'stock': {'on_hand': 0}})
    for stock in ({}, {'on_hand': '0'}, {'on_hand': 1.5}, {'on_hand': 10**9 + 1}, []):
        assert not valid(document, 'NewProduct', {**product, 'stock': stock}), stock


def test_product_lists_filter_on_a_boolean(document):
    listing = operations(document)[('/products', 'get')]

    assert parameter(document, listing, 'active')['schema'] == {'type': 'boolean'}


@pytest.mark.parametrize(
    ('address', 'accepted'),
    [
        ('ada@example.com', True),
        ('"ada@home"@example.com', True),
        ('"ada lovelace"@example.com', False),
        ('ada@[127.0.0.1]', True),
        ('ada@localhost', True),
        ('0@0.a', False),
        ('ada@example', False),
        ('=?utf-8?q?ada@example.com', False),
        ('adà@example.com', False),
        ('ada@@example.com', False),
    ],
)
def test_user_email_is_described_by_the_services_own_rule(document, address, accepted):
    pattern = document['components']['schemas']['NewOrder']['properties']['user_email']['pattern']

    assert bool(re.search(re.sub(r'\$$', r'\\Z', pattern), address)) is accepted
    assert (schemas.verified_email(address) == address) is accepted


# Each free-text field: (schema in the document, field, the marshmallow schema's field).
FREE_TEXT = [
    ('StatusChange', 'carrier', schemas.UpdateOrderSchema, 'carrier'),
    ('StatusChange', 'reason', schemas.UpdateOrderSchema, 'reason'),
    ('NewProduct', 'name', catalog_schemas.ProductSchema, 'name'),
    ('NewProduct', 'sku', catalog_schemas.ProductSchema, 'sku'),
]


@pytest.mark.parametrize(('component', 'name', 'schema', 'field'), FREE_TEXT)
def test_free_text_patterns_refuse_exactly_what_the_validators_refuse(
    document, component, name, schema, field
):
    documented = document['components']['schemas'][component]['properties'][name]
    # ECMA-262's $ is the end of the text; Python's would also match before a last newline.
    patterns = [
        re.compile(re.sub(r'\$$', r'\\Z', found['pattern']))
        for found in (documented, *documented.get('allOf', ()))
    ]
    rules = schema._declared_fields[field].validators
    # Every character up to U+3000 (controls, spaces, bidi controls), then a sample.
    points = [*range(0x3000), *range(0x3000, 0x110000, 61)]
    for point in points:
        if 0xD800 <= point < 0xE000:
            continue  # lone surrogates are not text a pattern can name
        for text in ('a' + chr(point), chr(point), ' ' + chr(point) + ' '):
            try:
                for rule in rules:
                    rule(text)
                accepted = True
            except ValidationError:
                accepted = False
            matched = all(pattern.search(text) for pattern in patterns)
            assert matched is accepted, (component, name, hex(point), text)


@pytest.mark.parametrize(
    'url',
    [
        'https://track.example.com/JD-1?x=1#top',
        'HTTPS://localhost:8443/',
        'https://192.0.2.1/parcel',
        'https://[2001:db8::1]/parcel',
        'https://[::]',
        'https://[05:2797]/',  # brackets with no IPv6 address in them
        'https://[::g]/',
        'https://example/',  # no dot
        'http://track.example.com/',
        'https://user@track.example.com/',
        'https://track.example.com/a b',
        'https://track.example.com/é',
    ],
)
def test_tracking_url_pattern_accepts_what_the_service_accepts(document, url):
    documented = document['components']['schemas']['StatusChange']['properties']['tracking_url']
    pattern = re.compile(documented['pattern'][:-1] + r'\Z')
    body = {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'JD-1', 'tracking_url': url}
    try:
        schemas.load_update_order(body)
        accepted = True
    except InvalidInput:
        accepted = False

    assert bool(pattern.search(url)) is accepted


ADDRESS = json.dumps(
    {'name': 'Ada', 'line1': '1 Main St', 'city': 'Berlin', 'postal_code': '10115', 'country': 'DE'}
)


def service_accepts(schema, text):
    """Whether the service's schema loads this JSON body (numbers read as the
    service reads them: a fraction is a Decimal)."""
    try:
        schema().load(json.loads(text, parse_float=Decimal))
        return True
    except ValidationError:
        return False


def document_accepts(document, name, text):
    return valid(document, name, json.loads(text))


@pytest.mark.parametrize(
    'text',
    [
        '{"type": "percent", "value": 10}',
        '{"type": "percent", "value": 100}',
        '{"type": "percent", "value": 12.5, "currency": "JPY"}',  # a percentage, not money
        '{"type": "percent", "value": 100.01}',
        '{"type": "percent", "value": 0}',
        '{"type": "percent"}',
        '{"type": "percent", "value": 10, "min_subtotal": 50}',  # in which currency?
        '{"type": "percent", "value": 10, "min_subtotal": 50, "currency": "USD"}',
        '{"type": "percent", "value": 10, "min_subtotal": 50.5, "currency": "KRW"}',
        '{"type": "fixed", "value": 5, "currency": "USD"}',
        '{"type": "fixed", "value": 5.25, "currency": "USD"}',
        '{"type": "fixed", "value": 5.25, "currency": "JPY"}',
        '{"type": "fixed", "value": 500, "currency": "JPY"}',
        '{"type": "fixed", "value": 5}',
        '{"type": "fixed", "value": 0, "currency": "USD"}',
        '{"type": "fixed", "currency": "USD"}',
        '{"type": "fixed", "value": 1000, "currency": "USD"}',
        '{"type": "free_shipping"}',
        '{"type": "free_shipping", "currency": "EUR", "min_subtotal": 40}',
        '{"type": "free_shipping", "value": 5}',
        '{"type": "free_shipping", "value": 5, "currency": "EUR"}',
    ],
)
def test_a_discounts_value_is_described_by_its_type(document, text):
    assert document_accepts(document, 'NewDiscount', text) is service_accepts(
        schemas.DiscountSchema, text
    )


@pytest.mark.parametrize(
    'text',
    [
        '{"price": 4.99, "currency": "USD"}',
        '{"price": 500, "currency": "JPY", "free_over": 5000}',
        '{"price": 4.99, "currency": "JPY"}',
        '{"price": 500, "currency": "KRW", "free_over": 5000.5}',
        '{"price": 500.5, "currency": "KRW"}',
        '{"price": 0, "currency": "USD", "free_over": 99.99}',
    ],
)
def test_a_shipping_methods_amounts_are_in_its_currencys_decimals(document, text):
    body = json.dumps({'name': 'Standard', 'countries': ['US'], **json.loads(text)})

    assert document_accepts(document, 'NewShippingMethod', body) is service_accepts(
        schemas.ShippingMethodSchema, body
    )


@pytest.mark.parametrize(
    'rates',
    [
        '{"standard": 0.07}',
        '{"reduced-2_b": 0.01}',
        '{"Standard": 0.07}',
        '{"": 0.07}',
        '{"a b": 0.07}',
        '{"%s": 0.07}' % ('x' * 33),
        '{"%s": 0.07}' % ('x' * 32),
    ],
)
def test_a_tax_rates_classes_are_described_by_the_tax_class_rule(document, rates):
    body = f'{{"name": "VAT", "shipping": true, "rates": {rates}}}'

    assert document_accepts(document, 'NewTaxRate', body) is service_accepts(
        schemas.TaxRateSchema, body
    )


def test_an_addresss_country_is_one_of_those_the_address_rules_know(document):
    countries = document['components']['schemas']['NewAddress']['properties']['country']['enum']
    # Every two-letter code: accepted by the document exactly when the service
    # does not refuse the country (its other rules, a postal code, may refuse more).
    for first in string.ascii_uppercase:
        for second in string.ascii_uppercase:
            code = first + second
            try:
                schemas.AddressSchema().load(
                    {'name': 'Ada', 'line1': '1 Main St', 'city': 'Springfield', 'country': code}
                )
                refused = {}
            except ValidationError as error:
                refused = error.messages
            assert (code in countries) is ('country' not in refused), code
    assert {'US', 'DE', 'JP', 'GB'} <= set(countries) and 'ZZ' not in countries
    # The same where an order's body holds the address.
    new_order = document['components']['schemas']['NewOrder']['properties']
    for address in ('shipping_address', 'billing_address'):
        assert new_order[address]['properties']['country']['enum'] == countries


@pytest.mark.parametrize(
    'extra',
    [
        '{}',
        '{"shipping_method": "standard"}',
        '{"shipping_method": "standard", "shipping_address": null}',
        '{"shipping_method": "standard", "shipping_address": %s}' % ADDRESS,
        '{"shipping_address": %s}' % ADDRESS,
        '{"shipping_address": null}',
    ],
)
def test_a_shipping_method_needs_a_shipping_address(document, extra):
    body = json.dumps({'items': [{'product_id': 1, 'quantity': 1}], **json.loads(extra)})

    assert document_accepts(document, 'NewOrder', body) is service_accepts(
        schemas.CreateOrderSchema, body
    )
