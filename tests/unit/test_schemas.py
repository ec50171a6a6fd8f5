"""Request parsing and validation (chalicelib/orders/schemas.py) and the order
lists' cursors (core/paging.py's codec with orders/paging.py's filters),
without a database."""

import base64
import json
from decimal import Decimal

import pytest

from chalicelib.core import money
from chalicelib.core.clock import utc_iso
from chalicelib.core.errors import InvalidInput, PayloadTooLarge
from chalicelib.core.paging import PageRequest
from chalicelib.orders import paging, schemas
from chalicelib.orders.commands import (
    ExportRange,
    NewOrder,
    NewOrderItem,
    OrderListQuery,
    OrderUpdate,
)
from chalicelib.orders.schemas import MAX_ID


def parse(text):
    return schemas.parse_json_object(text.encode() if isinstance(text, str) else text)


def load_order(text):
    """An order body as the service sees it: raw JSON text, parsed, then loaded."""
    return schemas.load_create_order(parse(text))


def order_json(user_id='1', items=None, **extra):
    """Raw JSON of an order; values are JSON source text, so 29.999 stays 29.999."""
    items = items if items is not None else [item_json()]
    fields = [f'"user_id": {user_id}', f'"items": [{", ".join(items)}]']
    fields += [f'"{name}": {value}' for name, value in extra.items()]
    return '{' + ', '.join(fields) + '}'


def item_json(product_id='101', quantity='2', price='29.99', **extra):
    fields = [
        f'"product_id": {product_id}',
        f'"quantity": {quantity}',
        f'"price_at_order": {price}',
    ]
    fields += [f'"{name}": {value}' for name, value in extra.items()]
    return '{' + ', '.join(fields) + '}'


def refused(text):
    with pytest.raises(InvalidInput) as raised:
        load_order(text)
    assert raised.value.errors, 'a refusal says which field is wrong'
    return raised.value.errors


def email(address):
    return order_json(user_email=json.dumps(address))


# -- parse_json_object ----------------------------------------------------------


def test_parse_returns_the_object_with_fractions_as_exact_decimals():
    body = parse('{"user_id": 1, "price": 0.10, "big": 12345678901234567890}')

    assert body == {'user_id': 1, 'price': Decimal('0.10'), 'big': 12345678901234567890}
    assert isinstance(body['price'], Decimal) and str(body['price']) == '0.10'
    assert type(body['user_id']) is int


@pytest.mark.parametrize(
    'raw', [b'', b'{', b'{"a": 1,}', b"{'a': 1}", b'not json', b'{"a": 1} trailing', b'\xff\xfe{}']
)
def test_parse_refuses_invalid_json(raw):
    with pytest.raises(InvalidInput) as raised:
        parse(raw)

    assert 'JSON' in str(raised.value)


def test_parse_refuses_a_missing_body():
    with pytest.raises(InvalidInput):
        schemas.parse_json_object(None)


@pytest.mark.parametrize('raw', ['[]', '[{"user_id": 1}]', '"text"', '1', '1.5', 'null', 'true'])
def test_parse_refuses_json_that_is_not_an_object(raw):
    with pytest.raises(InvalidInput) as raised:
        parse(raw)

    assert 'object' in str(raised.value)


@pytest.mark.parametrize('constant', ['NaN', 'Infinity', '-Infinity'])
def test_parse_refuses_nan_and_infinity(constant):
    with pytest.raises(InvalidInput):
        parse('{"price_at_order": %s}' % constant)


@pytest.mark.parametrize('opening,closing', [('[', ']'), ('{"a":', '}')])
def test_parse_of_10000_deep_nesting_is_invalid_input_not_recursion_error(opening, closing):
    raw = '{"a": ' + opening * 10000 + '1' + closing * 10000 + '}'

    with pytest.raises(InvalidInput):
        parse(raw)


def test_parse_of_moderate_nesting_is_still_parsed():
    body = parse('{"a": ' + '[' * 50 + ']' * 50 + '}')

    assert 'a' in body


def test_parse_refuses_a_body_over_64_kib_as_payload_too_large():
    padding = 'x' * (64 * 1024)
    raw = ('{"pad": "%s"}' % padding).encode()

    with pytest.raises(PayloadTooLarge):
        parse(raw)


def test_parse_accepts_a_body_of_exactly_64_kib():
    raw = b'{"pad": "' + b'x' * (64 * 1024 - 11) + b'"}'
    assert len(raw) == 64 * 1024

    assert len(parse(raw)['pad']) == 64 * 1024 - 11


def test_parse_keeps_1e309_a_finite_decimal_never_infinity():
    body = parse('{"price_at_order": 1e309}')

    assert body['price_at_order'].is_finite()
    assert body['price_at_order'] == Decimal('1e309')


# -- load_create_order: what is accepted -------------------------------------------


def test_valid_order_loads_with_exact_prices():
    data = load_order(
        order_json(
            user_email='"ada@example.com"',
            items=[
                item_json(price='29.99'),
                item_json(product_id='102', quantity='1', price='49.99'),
            ],
        )
    )

    assert data == NewOrder(
        user_id=1,
        user_email='ada@example.com',
        items=(
            NewOrderItem(product_id=101, quantity=2, price_at_order=Decimal('29.99')),
            NewOrderItem(product_id=102, quantity=1, price_at_order=Decimal('49.99')),
        ),
    )


def test_user_email_is_optional():
    data = load_order(order_json())

    assert data.user_email is None


@pytest.mark.parametrize('value', ['1', str(MAX_ID)])
def test_user_id_accepts_integers_from_1_to_2_63_minus_1(value):
    assert load_order(order_json(user_id=value)).user_id == int(value)


@pytest.mark.parametrize('value', ['1', str(MAX_ID)])
def test_product_id_accepts_integers_from_1_to_2_63_minus_1(value):
    data = load_order(order_json(items=[item_json(product_id=value)]))

    assert data.items[0].product_id == int(value)


@pytest.mark.parametrize('value', ['1', '10000'])
def test_quantity_accepts_1_to_10000(value):
    data = load_order(order_json(items=[item_json(quantity=value)]))

    assert data.items[0].quantity == int(value)


@pytest.mark.parametrize(
    'raw,stored',
    [
        ('0', '0.00'),
        ('0.00', '0.00'),
        ('0.01', '0.01'),
        ('29.99', '29.99'),
        ('29.990', '29.99'),
        ('29.9', '29.90'),
        ('30', '30.00'),
        ('2.5e1', '25.00'),
        ('99999999.99', '99999999.99'),
    ],
)
def test_price_accepts_up_to_two_significant_decimals_and_keeps_them_exact(raw, stored):
    data = load_order(order_json(items=[item_json(quantity='1', price=raw)]))

    price = data.items[0].price_at_order
    assert isinstance(price, Decimal)
    assert str(price) == stored


@pytest.mark.parametrize('count', [1, 100])
def test_items_accepts_1_to_100_entries(count):
    data = load_order(order_json(items=[item_json(quantity='1', price='1')] * count))

    assert len(data.items) == count


def test_order_total_of_exactly_the_maximum_is_accepted():
    data = load_order(
        order_json(
            items=[
                item_json(quantity='1', price='99999999.98'),
                item_json(quantity='1', price='0.01'),
            ]
        )
    )

    assert len(data.items) == 2


def test_user_email_of_254_characters_is_accepted():
    address = 'a' * 64 + '@' + 'b' * 63 + '.' + 'c' * 63 + '.' + 'd' * 57 + '.com'
    assert len(address) == 254

    assert load_order(email(address)).user_email == address


# -- load_create_order: what is refused, keyed by field and list index --------------


@pytest.mark.parametrize(
    'value',
    [
        '"1"',
        '1.5',
        '1.0',
        'true',
        'false',
        'null',
        '0',
        '-1',
        str(MAX_ID + 1),
        '1e309',
        '[1]',
        '{}',
    ],
)
def test_user_id_must_be_a_json_integer_of_at_least_1(value):
    errors = refused(order_json(user_id=value))

    assert set(errors) == {'user_id'}


@pytest.mark.parametrize('value', ['"1"', '1.5', '1.0', 'true', 'null', '0', '-5', str(MAX_ID + 1)])
def test_product_id_must_be_a_json_integer_of_at_least_1(value):
    errors = refused(order_json(items=[item_json(product_id=value)]))

    assert errors == {'items': {0: {'product_id': errors['items'][0]['product_id']}}}


@pytest.mark.parametrize('value', ['"1"', '1.5', '1.0', 'true', '0', '-1', '10001'])
def test_quantity_must_be_a_json_integer_from_1_to_10000(value):
    errors = refused(order_json(items=[item_json(quantity=value)]))

    assert list(errors['items'][0]) == ['quantity']


def test_quantity_out_of_range_message_names_the_range():
    errors = refused(order_json(items=[item_json(quantity='0')]))

    assert errors == {
        'items': {
            0: {'quantity': ['Must be greater than or equal to 1 and less than or equal to 10000.']}
        }
    }


@pytest.mark.parametrize(
    'value',
    [
        '29.999',
        '0.001',
        '1.005',
        '-0.01',
        '-1',
        '100000000',
        '100000000.00',
        '99999999.991',
        '1e309',
        '"29.99"',
        'true',
        'null',
        '[]',
        '1e-3',
    ],
)
def test_price_out_of_range_or_with_more_than_two_decimals_is_refused(value):
    errors = refused(order_json(items=[item_json(price=value)]))

    assert list(errors['items'][0]) == ['price_at_order']


def test_price_with_three_decimals_is_refused_never_rounded():
    errors = refused(order_json(items=[item_json(price='29.999')]))

    assert errors == {'items': {0: {'price_at_order': ['Must have at most two decimal places.']}}}


def test_a_python_float_price_is_refused_as_inexact():
    # Only the parser's Decimals and ints carry exact money; a float never does.
    with pytest.raises(InvalidInput):
        schemas.load_create_order(
            {'user_id': 1, 'items': [{'product_id': 1, 'quantity': 1, 'price_at_order': 0.1}]}
        )


def test_errors_are_keyed_by_the_index_of_the_failing_item():
    errors = refused(
        order_json(
            items=[item_json(), item_json(quantity='0'), item_json(), item_json(price='1.234')]
        )
    )

    assert set(errors) == {'items'}
    assert set(errors['items']) == {1, 3}
    assert list(errors['items'][1]) == ['quantity']
    assert list(errors['items'][3]) == ['price_at_order']


def test_errors_name_every_failing_field_at_once():
    errors = refused(
        order_json(user_id='"1"', items=[item_json(product_id='0')], user_email='"nope"')
    )

    assert set(errors) == {'user_id', 'user_email', 'items'}


@pytest.mark.parametrize('count', [0, 101])
def test_items_must_have_1_to_100_entries(count):
    errors = refused(order_json(items=[item_json(quantity='1', price='1')] * count))

    assert set(errors) == {'items'}
    assert isinstance(errors['items'], list)


@pytest.mark.parametrize('items', ['{}', '"x"', '1', 'null'])
def test_items_must_be_a_list(items):
    errors = refused('{"user_id": 1, "items": %s}' % items)

    assert set(errors) == {'items'}


def test_an_item_that_is_not_an_object_is_refused_at_its_index():
    errors = refused('{"user_id": 1, "items": [%s, 5]}' % item_json())

    assert set(errors['items']) == {1}


def test_price_at_order_may_be_left_out_for_the_catalog_to_price():
    data = schemas.load_create_order({'items': [{'product_id': 1, 'quantity': 1}]})

    assert data.items[0].price_at_order is None


@pytest.mark.parametrize('missing', ['product_id', 'quantity'])
def test_product_and_quantity_are_required(missing):
    item = {'product_id': 1, 'quantity': 1, 'price_at_order': 1}
    del item[missing]

    errors = refused(json.dumps({'user_id': 1, 'items': [item]}))

    assert errors == {'items': {0: {missing: ['Missing data for required field.']}}}


def test_items_are_required():
    errors = refused(json.dumps({'user_id': 1}))

    assert errors == {'items': ['Missing data for required field.']}


def test_user_id_may_be_left_out_for_the_access_rules_to_decide():
    # A customer's order is their own; staff without one get a 400 there.
    data = schemas.load_create_order(
        {'items': [{'product_id': 1, 'quantity': 1, 'price_at_order': 1}]}
    )

    assert data.user_id is None


@pytest.mark.parametrize(
    'address', ['not-an-email', 'ada@', '@example.com', 'ada example@example.com', '']
)
def test_user_email_must_be_a_valid_address(address):
    errors = refused(email(address))

    assert set(errors) == {'user_email'}


def test_user_email_of_255_characters_is_refused():
    address = 'a' * 64 + '@' + 'b' * 63 + '.' + 'c' * 63 + '.' + 'd' * 58 + '.com'
    assert len(address) == 255

    errors = refused(email(address))

    assert set(errors) == {'user_email'}


@pytest.mark.parametrize(
    'address',
    [
        'ada@example.com\n',
        'ada\x00@example.com',
        'ada@exa\tmple.com',
        'ada@example.com\x7f',
        'ada@example.com\r\nBcc: eve@example.com',
    ],
)
def test_user_email_with_control_characters_is_refused(address):
    errors = refused(email(address))

    assert 'Must be printable ASCII, without "=?".' in errors['user_email']


def test_user_email_must_be_a_string():
    errors = refused(order_json(user_email='42'))

    assert set(errors) == {'user_email'}


@pytest.mark.parametrize('field', ['order_total', 'status', 'order_id', 'version', 'extra'])
def test_unknown_or_server_owned_top_level_fields_are_refused(field):
    errors = refused(order_json(**{field: '1'}))

    assert errors == {field: ['Unknown field.']}


def test_unknown_item_fields_are_refused_at_their_index():
    errors = refused(order_json(items=[item_json(), item_json(order_item_id='7')]))

    assert errors == {'items': {1: {'order_item_id': ['Unknown field.']}}}


# -- load_update_order ------------------------------------------------------------


@pytest.mark.parametrize('status', ['pending', 'paid', 'shipped', 'delivered', 'cancelled'])
def test_update_accepts_each_status(status):
    assert schemas.load_update_order({'status': status}) == OrderUpdate(status)


@pytest.mark.parametrize(
    'body', [{}, {'status': 'lost'}, {'status': 'PAID'}, {'status': 1}, {'status': None}]
)
def test_update_refuses_a_missing_or_unknown_status(body):
    with pytest.raises(InvalidInput) as raised:
        schemas.load_update_order(body)

    assert set(raised.value.errors) == {'status'}


def test_update_refuses_unknown_fields():
    with pytest.raises(InvalidInput) as raised:
        schemas.load_update_order({'status': 'paid', 'version': 3})

    assert raised.value.errors == {'version': ['Unknown field.']}


SPRINGFIELD = {
    'name': 'Ada',
    'line1': '12 Main St',
    'city': 'Springfield',
    'region': 'IL',
    'postal_code': '62704',
    'country': 'US',
}


def test_update_may_carry_addresses_alone_or_with_a_status():
    moved = schemas.load_update_order({'shipping_address': SPRINGFIELD})
    both = schemas.load_update_order({'status': 'cancelled', 'billing_address': SPRINGFIELD})

    assert moved.status is None
    assert moved.addresses is not None and moved.addresses.shipping.city == 'Springfield'
    assert (moved.addresses.billing, moved.addresses.sets_billing) == (None, False)
    assert both.status == 'cancelled'
    assert both.addresses.billing.region == 'IL' and both.addresses.sets_billing
    assert schemas.load_update_order({'status': 'paid'}).addresses is None


def test_a_null_billing_address_is_the_shipping_address_again():
    update = schemas.load_update_order({'billing_address': None})

    assert update.addresses is not None
    assert (update.addresses.billing, update.addresses.sets_billing) == (None, True)


def test_update_wants_a_status_or_an_address_and_never_removes_the_shipping_address():
    assert set(update_errors({})) == {'status'}
    assert set(update_errors({'shipping_address': None})) == {'shipping_address'}
    assert set(update_errors({'shipping_address': {**SPRINGFIELD, 'postal_code': '10001'}})) == {
        'shipping_address'
    }


# -- shipping details and cancellation reason --------------------------------------

TRACKING = {
    'carrier': 'DHL Express',
    'tracking_number': 'JD-0142-x',
    'tracking_url': 'https://track.example.com/?id=JD-0142&lang=en',
}


def update_errors(body):
    with pytest.raises(InvalidInput) as raised:
        schemas.load_update_order(body)
    assert raised.value.args[0] == 'Invalid order update'
    return raised.value.errors


def test_shipped_may_carry_carrier_tracking_number_and_url():
    body = {'status': 'shipped', **TRACKING}

    assert schemas.load_update_order(body) == OrderUpdate(**body)


def test_shipped_may_carry_carrier_and_tracking_number_without_a_url():
    body = {'status': 'shipped', 'carrier': 'La Poste', 'tracking_number': '6A12345678901'}

    assert schemas.load_update_order(body) == OrderUpdate(**body)
    assert schemas.load_update_order(body).details() == {
        'carrier': 'La Poste',
        'tracking_number': '6A12345678901',
    }


def test_cancelled_may_carry_a_reason_of_1_to_500_characters_with_line_breaks():
    for reason in ('x', 'r' * 500, 'Ordered twice.\r\nSorry!', 'Déjà commandé 😅'):
        assert schemas.load_update_order({'status': 'cancelled', 'reason': reason}).reason == reason


@pytest.mark.parametrize('status', ['pending', 'paid', 'delivered', 'cancelled'])
@pytest.mark.parametrize('name', ['carrier', 'tracking_number', 'tracking_url'])
def test_shipping_fields_with_any_other_status_are_refused(status, name):
    body = {'status': status, 'carrier': 'DHL', 'tracking_number': 'JD-1', name: TRACKING[name]}

    errors = update_errors(body)

    assert errors[name] == ["Only allowed with status 'shipped'."]


@pytest.mark.parametrize('status', ['pending', 'paid', 'shipped', 'delivered'])
def test_a_reason_with_any_other_status_is_refused(status):
    assert update_errors({'status': status, 'reason': 'because'}) == {
        'reason': ["Only allowed with status 'cancelled'."]
    }


def test_a_carrier_without_a_tracking_number_is_refused():
    assert update_errors({'status': 'shipped', 'carrier': 'DHL'}) == {
        'tracking_number': ['Required together with carrier.']
    }


def test_a_tracking_number_without_a_carrier_is_refused():
    assert update_errors({'status': 'shipped', 'tracking_number': 'JD-1'}) == {
        'carrier': ['Required together with tracking_number.']
    }


def test_a_tracking_url_alone_is_refused():
    assert update_errors({'status': 'shipped', 'tracking_url': TRACKING['tracking_url']}) == {
        'tracking_url': ['Only allowed with carrier and tracking_number.']
    }


@pytest.mark.parametrize(
    'carrier',
    [
        '',
        ' ',
        'x' * 51,
        'DHL\nBcc: x',
        'DHL\t',
        '\u202eLHD',
        'Zero\u200bWidth',
        'NB\u00a0SP',
        7,
        None,
    ],
)
def test_carrier_must_be_1_to_50_printable_characters(carrier):
    errors = update_errors({'status': 'shipped', 'carrier': carrier, 'tracking_number': 'JD-1'})

    assert set(errors) == {'carrier'}


def test_carrier_of_50_characters_in_any_script_is_accepted():
    for carrier in ('c' * 50, 'Österreichische Post', '日本郵便', 'DHL <Express> & "Co"'):
        body = {'status': 'shipped', 'carrier': carrier, 'tracking_number': 'JD-1'}
        assert schemas.load_update_order(body).carrier == carrier


@pytest.mark.parametrize('number', ['', 'JD 1', 'JD_1', 'JD-1\n', 'ＪＤ1', 'é1', 'x' * 101, 1])
def test_tracking_number_must_be_1_to_100_letters_digits_or_hyphens(number):
    errors = update_errors({'status': 'shipped', 'carrier': 'DHL', 'tracking_number': number})

    assert set(errors) == {'tracking_number'}


def test_tracking_number_of_100_characters_is_accepted():
    body = {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'A-9' * 33 + 'z'}

    assert schemas.load_update_order(body).tracking_number == 'A-9' * 33 + 'z'


@pytest.mark.parametrize(
    'url',
    [
        'http://track.example.com/JD-1',
        'javascript:alert(1)',
        'ftp://track.example.com/',
        '//track.example.com/JD-1',
        'track.example.com/JD-1',
        'https://',
        'https:///JD-1',
        'https://track.example.com/a b',
        'https://track.example.com/"><script>',
        'https://track.example.com/\nx',
        'https://tráck.example.com/',
        'https://carrier.example@evil.example/JD-1',
        'https://u:p@track.example.com/',
        'https://track.example.com/' + 'x' * 475,
        '',
    ],
)
def test_tracking_url_must_be_an_https_url_of_at_most_500_characters(url):
    body = {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'JD-1', 'tracking_url': url}

    assert set(update_errors(body)) == {'tracking_url'}


def test_tracking_url_of_500_characters_is_accepted():
    url = 'https://track.example.com/' + 'x' * 474
    body = {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'JD-1', 'tracking_url': url}

    assert len(url) == 500
    assert schemas.load_update_order(body).tracking_url == url


def test_tracking_url_scheme_is_case_insensitive_and_percent_encoding_is_fine():
    url = 'HTTPS://Track.Example.com/p%C3%A4ket?id=JD-1#top'
    body = {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'JD-1', 'tracking_url': url}

    assert schemas.load_update_order(body).tracking_url == url


@pytest.mark.parametrize('reason', ['', '   ', 'x' * 501, 'nul\x00byte', 'bell\x07', 7, None])
def test_reason_must_be_1_to_500_characters_of_text(reason):
    assert set(update_errors({'status': 'cancelled', 'reason': reason})) == {'reason'}


def test_a_501_character_reason_is_refused_with_the_range():
    assert update_errors({'status': 'cancelled', 'reason': 'r' * 501}) == {
        'reason': ['Length must be between 1 and 500.']
    }


# -- load_export_query --------------------------------------------------------------


def export_error(params):
    with pytest.raises(InvalidInput) as raised:
        schemas.load_export_query(params)
    return raised.value.errors


def test_export_dates_are_both_optional():
    assert schemas.load_export_query({}) == ExportRange()
    assert schemas.load_export_query(None) == ExportRange()
    assert schemas.load_export_query({'from': '', 'to': ''}) == ExportRange()


def test_export_dates_are_read_as_calendar_dates():
    from datetime import date

    assert schemas.load_export_query({'from': '2026-02-01', 'to': '2026-02-28'}) == ExportRange(
        from_date=date(2026, 2, 1), to_date=date(2026, 2, 28)
    )


def test_export_from_and_to_may_be_the_same_day():
    dates = schemas.load_export_query({'from': '2026-02-01', 'to': '2026-02-01'})

    assert dates.from_date == dates.to_date is not None


@pytest.mark.parametrize(
    'value',
    [
        '2026-02-30',
        '2026-13-01',
        '2026-1-05',
        '20260105',
        '2026-01-05T00:00:00',
        '2026-01-05Z',
        ' 2026-01-05',
        '0000-01-01',
        'yesterday',
        '２０２６-01-05',
    ],
)
@pytest.mark.parametrize('name', ['from', 'to'])
def test_export_dates_must_be_real_days_written_yyyy_mm_dd(name, value):
    assert export_error({name: value}) == {name: ['Not a valid date: use YYYY-MM-DD.']}


def test_export_from_after_to_is_refused():
    assert export_error({'from': '2026-02-02', 'to': '2026-02-01'}) == {
        'from': ['Must not be after to.']
    }


def test_export_refuses_unknown_parameters():
    assert export_error({'since': '2026-02-02'}) == {'since': ['Unknown field.']}


# -- load_list_query --------------------------------------------------------------


def query_error(params, for_user=False):
    with pytest.raises(InvalidInput) as raised:
        schemas.load_list_query(params, for_user=for_user)
    return raised.value.errors


@pytest.mark.parametrize('params', [None, {}])
def test_list_query_defaults_to_page_size_10(params):
    assert schemas.load_list_query(params) == OrderListQuery(PageRequest(page_size=10))


def test_list_query_loads_every_parameter():
    query = schemas.load_list_query(
        {'page': '3', 'page_size': '25', 'status': 'paid', 'user_id': '7'}
    )

    assert query == OrderListQuery(PageRequest(page_size=25, page=3), status='paid', user_id=7)


@pytest.mark.parametrize('size', ['1', '100'])
def test_list_query_accepts_page_size_1_to_100(size):
    assert schemas.load_list_query({'page_size': size}).page.page_size == int(size)


@pytest.mark.parametrize('size', ['0', '101', '1000'])
def test_list_query_refuses_page_size_outside_1_to_100_never_clamping(size):
    assert set(query_error({'page_size': size})) == {'page_size'}


def test_list_query_refuses_page_0():
    assert set(query_error({'page': '0'})) == {'page'}


def test_list_query_refuses_page_with_cursor():
    assert set(query_error({'page': '1', 'cursor': 'abc'})) == {'page'}


def test_list_query_refuses_page_of_10_to_the_20():
    assert set(query_error({'page': str(10**20)})) == {'page'}


@pytest.mark.parametrize('page,size', [(str(MAX_ID), '10'), (str(10**17), '100')])
def test_list_query_refuses_a_page_whose_offset_overflows(page, size):
    assert set(query_error({'page': page, 'page_size': size})) == {'page'}


def test_list_query_accepts_the_largest_page_whose_offset_fits():
    page = MAX_ID // 100 + 1  # offset (page - 1) * 100 <= 2**63 - 1

    assert schemas.load_list_query({'page': str(page), 'page_size': '100'}).page.page == page


@pytest.mark.parametrize('name', ['page', 'page_size', 'user_id'])
@pytest.mark.parametrize(
    'value', ['abc', '-1', '+1', '1.5', '1e2', ' 1', '1 ', '0x10', '1_0', '\uff11']
)
def test_list_query_refuses_numbers_that_are_not_plain_digits(name, value):
    assert set(query_error({name: value})) == {name}


@pytest.mark.parametrize('value', ['0', str(MAX_ID + 1)])
def test_list_query_refuses_user_id_outside_the_id_range(value):
    assert set(query_error({'user_id': value})) == {'user_id'}


def test_list_query_refuses_an_unknown_status():
    assert set(query_error({'status': 'lost'})) == {'status'}


def test_list_query_treats_empty_values_as_absent():
    query = schemas.load_list_query(
        {'page': '', 'page_size': '', 'status': '', 'user_id': '', 'cursor': ''}
    )

    assert query == OrderListQuery(PageRequest(page_size=10))


@pytest.mark.parametrize('name', ['sort', 'limit', 'offset', 'pagesize'])
def test_list_query_refuses_unknown_parameters(name):
    assert query_error({name: '1'}) == {name: ['Unknown field.']}


def test_list_query_refuses_an_overlong_cursor():
    assert set(query_error({'cursor': 'a' * 513})) == {'cursor'}


@pytest.mark.parametrize('name', ['status', 'user_id'])
def test_user_list_query_refuses_order_filters(name):
    value = 'paid' if name == 'status' else '1'

    assert set(query_error({name: value}, for_user=True)) == {name}


def test_user_list_query_accepts_paging():
    query = schemas.load_list_query({'page': '2', 'page_size': '5'}, for_user=True)

    assert query == OrderListQuery(PageRequest(page_size=5, page=2))


# -- response shapes --------------------------------------------------------------


def test_money_json_prints_two_decimal_values_exactly():
    for amount in ('0.30', '0.50', '109.97', '99999999.99', '0.01'):
        text = json.dumps(money.to_json(Decimal(amount)))
        assert Decimal(text) == Decimal(amount)


def test_utc_iso_has_six_digit_microseconds_and_z():
    from datetime import datetime

    assert utc_iso(datetime(2026, 11, 25, 10, 0, 0, 123)) == '2026-11-25T10:00:00.000123Z'


# -- paging cursors ----------------------------------------------------------------


def raw_cursor(state):
    text = state if isinstance(state, (str, bytes)) else json.dumps(state)
    data = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(data).decode().rstrip('=')


@pytest.mark.parametrize(
    'filters',
    [
        {},
        {'status': 'paid'},
        {'user_id': 7},
        {'status': 'shipped', 'user_id': MAX_ID},
        {'status': None, 'user_id': None},
    ],
)
def test_cursor_round_trips_its_position_and_filters(filters):
    cursor = paging.CURSORS.encode(123, filters)

    after, remembered = paging.CURSORS.decode(cursor, {})

    assert after == 123
    assert remembered == {'status': filters.get('status'), 'user_id': filters.get('user_id')}


def test_cursor_is_url_safe_text_without_padding():
    cursor = paging.CURSORS.encode(MAX_ID, {'status': 'cancelled', 'user_id': MAX_ID})

    assert set(cursor) <= set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')


def test_cursor_accepts_the_same_filters_repeated():
    cursor = paging.CURSORS.encode(50, {'status': 'paid', 'user_id': 3})

    assert paging.CURSORS.decode(cursor, {'status': 'paid', 'user_id': 3}) == (
        50,
        {'status': 'paid', 'user_id': 3},
    )


@pytest.mark.parametrize(
    'given', [{'status': 'pending'}, {'user_id': 4}, {'status': 'paid', 'user_id': 4}]
)
def test_cursor_refuses_a_different_filter(given):
    cursor = paging.CURSORS.encode(50, {'status': 'paid', 'user_id': 3})

    with pytest.raises(InvalidInput) as raised:
        paging.CURSORS.decode(cursor, given)

    mismatched = {name for name in given if given[name] != {'status': 'paid', 'user_id': 3}[name]}
    assert set(raised.value.errors) & mismatched


def test_cursor_made_without_a_filter_refuses_one_added_later():
    cursor = paging.CURSORS.encode(50, {})

    with pytest.raises(InvalidInput) as raised:
        paging.CURSORS.decode(cursor, {'status': 'paid'})

    assert set(raised.value.errors) == {'status'}


@pytest.mark.parametrize(
    'cursor',
    [
        'not a cursor!',
        '%%%',
        'é',
        'a',
        raw_cursor('not json'),
        raw_cursor(b'\xff\xfe\x00'),
        raw_cursor([1, 2]),
        raw_cursor('5'),
        raw_cursor({}),
        raw_cursor({'after': 0}),
        raw_cursor({'after': -1}),
        raw_cursor({'after': '5'}),
        raw_cursor({'after': 5.0}),
        raw_cursor({'after': True}),
        raw_cursor({'after': MAX_ID + 1}),
        raw_cursor({'after': 5, 'status': 'lost'}),
        raw_cursor({'after': 5, 'user_id': 0}),
        raw_cursor({'after': 5, 'user_id': '3'}),
        raw_cursor({'after': 5, 'page': 2}),
    ],
)
def test_malformed_cursor_is_invalid_input_on_cursor(cursor):
    with pytest.raises(InvalidInput) as raised:
        paging.CURSORS.decode(cursor, {})

    assert raised.value.errors == {'cursor': ['Not a valid cursor.']}


# -- tracking_url hosts allowed (TRACKING_URL_HOSTS) ------------------------------

SHIPPED = {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'JD-1'}
CARRIERS = ('dhl.com', 'ups.com')


@pytest.mark.parametrize(
    'url', ['https://dhl.com/track?id=JD-1', 'https://www.dhl.com/track', 'https://WWW.UPS.COM/t']
)
def test_a_tracking_url_on_an_allowed_host_or_its_subdomain_is_accepted(url):
    body = {**SHIPPED, 'tracking_url': url}

    assert schemas.load_update_order(body, CARRIERS).tracking_url == url


@pytest.mark.parametrize(
    'url',
    [
        'https://evil.example/dhl.com',
        'https://dhl.com.evil.example/',
        'https://notdhl.com/',
        'https://evil.example/?u=dhl.com',
    ],
)
def test_a_tracking_url_on_any_other_host_is_refused_when_hosts_are_listed(url):
    with pytest.raises(InvalidInput) as refused:
        schemas.load_update_order({**SHIPPED, 'tracking_url': url}, CARRIERS)

    assert set(refused.value.errors) == {'tracking_url'}


def test_any_https_host_is_accepted_when_no_hosts_are_listed():
    body = {**SHIPPED, 'tracking_url': 'https://parcels.example/track'}

    assert schemas.load_update_order(body).tracking_url == 'https://parcels.example/track'


@pytest.mark.parametrize('url', ['https://[::g]/', 'https://[v1.x]/', 'https://a]b.example/'])
def test_a_tracking_url_with_brackets_that_hold_no_address_is_refused_not_a_crash(url):
    body = {'status': 'shipped', 'carrier': 'DHL', 'tracking_number': 'JD-1', 'tracking_url': url}

    assert set(update_errors(body)) == {'tracking_url'}
