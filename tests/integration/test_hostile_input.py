"""Hostile input, on SQLite and MariaDB: SQL injection in every field, header
and query parameter, oversized and absurdly nested bodies, numbers no column
holds, control characters, markup. The service never answers 5xx, every
refusal is in the contract's shape, and an invalid body stores nothing."""

import base64
import itertools
import json
import math
import os
import urllib.parse
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.orders.schemas import MAX_ID
from chalicelib.storage.models import IdempotencyKey, Order, OrderItem, Outbox
from tests.support import json_of, order_body, send

SQL_INJECTIONS = [
    "' OR '1'='1",
    '1 OR 1=1',
    '1; DROP TABLE orders; --',
    "' UNION SELECT order_id, user_email FROM orders --",
    "1' AND SLEEP(3) AND '1'='1",
    "\\' OR 1=1 -- ",
    '"; DELETE FROM orders WHERE ""="',
    '`orders`',
    '%27%20OR%201%3D1',
    '1/**/OR/**/1=1',
]


def stored():
    return (
        Order.select().count(),
        OrderItem.select().count(),
        Outbox.select().count(),
        IdempotencyKey.select().count(),
    )


def answered(response):
    """No 5xx; a refusal is JSON with a Code and a Message. Returns the body."""
    assert response.status_code < 500, (response.status_code, response.body[:500])
    body = json_of(response) if response.body else None
    if response.status_code >= 400:
        assert isinstance(body, dict), response.body[:500]
        assert isinstance(body.get('Code'), str) and body['Code']
        assert isinstance(body.get('Message'), str) and body['Message']
        assert 'Traceback' not in response.body.decode('utf-8', 'replace')
    return body


def post(client, body=None, raw=None, headers=None):
    return send(client, 'POST', '/orders', body, headers, raw=raw)


def refused_storing_nothing(send_request, status=400):
    """Send; the answer is the refusal `status` and nothing was stored."""
    before = stored()
    response = send_request()
    answered(response)
    assert response.status_code == status, response.body[:500]
    assert stored() == before


def bodies_with(value):
    """A valid order with `value` put in each field in turn (and as a key)."""

    def item(**change):
        line = {'product_id': 101, 'quantity': 1, 'price_at_order': 9.99}
        line.update(change)
        return line

    yield 'user_id', {'user_id': value, 'items': [item()]}
    yield 'items', {'user_id': 1, 'items': value}
    yield 'item', {'user_id': 1, 'items': [value]}
    for field in ('product_id', 'quantity', 'price_at_order'):
        yield field, {'user_id': 1, 'items': [item(**{field: value})]}
    yield 'user_email', {'user_id': 1, 'items': [item()], 'user_email': value}
    if isinstance(value, str):
        yield 'unknown field', {'user_id': 1, 'items': [item()], value: 1}
        yield 'unknown item field', {'user_id': 1, 'items': [{**item(), value: 1}]}


@pytest.mark.parametrize('injection', SQL_INJECTIONS)
def test_sql_injection_in_every_body_field_is_refused_and_stores_nothing(
    client, injection, executed_sql
):
    for field, body in bodies_with(injection):
        before = stored()
        sent = len(executed_sql)
        response = post(client, body)
        during = executed_sql[sent:]
        answered(response)
        assert not [sql for sql in during if 'SLEEP' in sql.upper()], (field, during)
        assert response.status_code == 400, (field, response.body)
        assert stored() == before, field
        # The statements were seen: stored()'s counts are in the record.
        assert any('COUNT' in sql.upper() for sql in executed_sql[sent + len(during) :]), field


@pytest.mark.parametrize('injection', SQL_INJECTIONS)
def test_sql_injection_in_an_email_that_is_valid_is_stored_verbatim(client, injection):
    """Some of them are valid addresses (a backquote may stand in a local
    part): stored as data, read back exactly, nothing else touched."""
    email = injection.replace(' ', '') + '@example.com'
    response = post(client, order_body(user_email=email))
    body = answered(response)
    if response.status_code == 400:
        assert stored() == (0, 0, 0, 0)
        return
    assert response.status_code == 201
    got = answered(client.http.get(f'/orders/{body["order_id"]}'))
    assert got['user_email'] == email
    assert stored()[:3] == (1, 2, 1)


@pytest.mark.parametrize('injection', SQL_INJECTIONS)
def test_sql_injection_in_paths_and_query_parameters_is_a_400(client, injection):
    order = json_of(post(client, order_body()))
    quoted = urllib.parse.quote(injection, safe='')
    requests = [
        ('GET', f'/orders/{quoted}'),
        ('PUT', f'/orders/{quoted}'),
        ('DELETE', f'/orders/{quoted}'),
        ('GET', f'/users/{quoted}/orders'),
    ]
    for name in ('status', 'user_id', 'page', 'page_size', 'cursor'):
        requests.append(('GET', f'/orders?{name}={quoted}'))
    for name in ('page', 'page_size', 'cursor'):
        requests.append(('GET', f'/users/1/orders?{name}={quoted}'))
    # A well-formed cursor carrying the injection as its values.
    for state in (
        {'after': injection},
        {'after': 5, 'status': injection},
        {'after': 5, 'user_id': injection},
        {'after': 5, injection: 1},
    ):
        cursor = base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip('=')
        requests.append(('GET', f'/orders?cursor={cursor}'))
    for method, path in requests:
        response = send(client, method, path, {'status': 'paid'} if method == 'PUT' else None)
        answered(response)
        assert response.status_code == 400, (method, path, response.body)
    assert stored()[:3] == (1, 2, 1)
    got = answered(client.http.get(f'/orders/{order["order_id"]}'))
    assert got['status'] == 'pending' and got['version'] == 1


@pytest.mark.parametrize('injection', SQL_INJECTIONS)
def test_sql_injection_in_headers(client, injection):
    order = json_of(post(client, order_body()))
    path = f'/orders/{order["order_id"]}'

    # If-Match: not an ETag, a 400; the order does not change.
    response = send(client, 'PUT', path, {'status': 'paid'}, {'If-Match': injection})
    answered(response)
    assert response.status_code == 400
    assert json_of(client.http.get(path))['version'] == 1
    # In a status value: a 400.
    response = send(client, 'PUT', path, {'status': injection})
    answered(response)
    assert response.status_code == 400
    # Idempotency-Key: printable ASCII is a valid key; it is only ever data.
    first = post(client, order_body(user_id=2), headers={'Idempotency-Key': injection})
    again = post(client, order_body(user_id=2), headers={'Idempotency-Key': injection})
    assert first.status_code == 201 and again.status_code == 201, (first.body, again.body)
    assert again.headers.get('Idempotent-Replayed') == 'true'
    assert json_of(again) == json_of(first)
    # Content-Type: Chalice's own 415, in its shape.
    response = post(client, order_body(), headers={'Content-Type': injection})
    answered(response)
    assert response.status_code == 415
    # Headers the service does not read change nothing.
    response = post(
        client,
        order_body(user_id=3),
        headers={
            'X-Forwarded-For': injection,
            'Accept-Language': injection,
            'Cookie': injection,
            'User-Agent': injection,
            'X-Request-Id': injection,
        },
    )
    answered(response)
    assert response.status_code == 201
    assert stored()[:3] == (3, 6, 3)


def test_six_megabyte_body_is_refused_in_the_contract_shape(client):
    valid_but_huge = json.dumps(order_body(user_email='a@example.com', pad='x' * 6 * 2**20))
    for raw in ('x' * (6 * 2**20), valid_but_huge, '[' * (6 * 2**20)):
        refused_storing_nothing(lambda: post(client, raw=raw), 413)  # noqa: B023 - called at once
    order = json_of(post(client, order_body()))
    refused_storing_nothing(
        lambda: send(
            client,
            'PUT',
            f'/orders/{order["order_id"]}',
            raw=json.dumps({'status': 'paid', 'pad': 'x' * 6 * 2**20}),
        ),
        413,
    )


@pytest.mark.parametrize('depth', [900, 10000])
def test_deeply_nested_json_anywhere_is_a_400(client, depth):
    nested = '[' * depth + ']' * depth
    objects = '{"a":' * depth + '1' + '}' * depth
    raws = [
        nested,
        objects,
        '{"user_id": 1, "items": %s}' % nested,
        '{"user_id": 1, "items": [%s]}' % objects,
        '{"user_id": 1, "items": [{"product_id": 1, "quantity": 1, '
        '"price_at_order": %s}]}' % nested,
        '{"user_id": 1, "items": [{"product_id": 1, "quantity": 1, '
        '"price_at_order": 1}], "user_email": %s}' % objects,
        '{"user_id": 1, "items": [{"product_id": 1, "quantity": 1, '
        '"price_at_order": 1}], "extra": %s}' % objects,
    ]
    for raw in raws:
        refused_storing_nothing(lambda: post(client, raw=raw))  # noqa: B023 - called at once
    order = json_of(post(client, order_body()))
    refused_storing_nothing(
        lambda: send(client, 'PUT', f'/orders/{order["order_id"]}', raw='{"status": %s}' % nested)
    )


NUMBERS = [
    'NaN',
    '-NaN',
    'Infinity',
    '-Infinity',
    '1e309',
    '-1e309',
    '1e999999999',
    '1e-999999999',
    str(MAX_ID + 1),
    str(2**64),
    '1' + '0' * 5000,
    '-' + str(MAX_ID + 1),
    '0.1e1',
    '1.5',
    '-1',
    '0',
    '-0',
    '1E400',
    '4.9e-324',
]


PRICES = {'0', '-0', '0.1e1', '1.5'}  # of NUMBERS, the valid prices


@pytest.mark.parametrize('number', NUMBERS)
def test_numbers_no_column_holds_are_a_400(client, number):
    for field in ('user_id', 'product_id', 'quantity', 'price_at_order'):
        values = {'user_id': '1', 'product_id': '1', 'quantity': '1', 'price_at_order': '1'}
        values[field] = number
        raw = (
            '{"user_id": %(user_id)s, "items": [{"product_id": %(product_id)s, '
            '"quantity": %(quantity)s, "price_at_order": %(price_at_order)s}]}' % values
        )
        before = stored()
        response = post(client, raw=raw)
        answered(response)
        if field == 'price_at_order' and number in PRICES:
            assert response.status_code == 201, raw
            assert json_of(response)['items'][0]['price_at_order'] == float(number)
            continue
        assert response.status_code == 400, (field, number, response.body)
        assert stored() == before


def money_of(response):
    """order_total and each price_at_order, every JSON number read as a float
    (so a "-0" written as an integer is the negative zero it says too)."""
    order = json.loads(response.body, parse_int=float)
    return [order['order_total']] + [item['price_at_order'] for item in order['items']]


@pytest.mark.parametrize('zero', ['-0.0', '-0.00', '-0e5'])
def test_a_negative_zero_price_is_answered_as_zero(client, zero):
    raw = '{"user_id": 1, "items": [{"product_id": 1, "quantity": 1, "price_at_order": %s}]}' % zero
    created = post(client, raw=raw)
    assert created.status_code == 201
    got = client.http.get(f'/orders/{json_of(created)["order_id"]}')
    for response in (created, got):
        money = money_of(response)
        assert len(money) == 2, response.body
        # Zero, and not a negative zero: its sign is +.
        assert all(value == 0 and math.copysign(1.0, value) == 1.0 for value in money), (
            response.body
        )


@pytest.mark.parametrize(
    'path',
    [
        f'/orders/{MAX_ID + 1}',
        f'/orders/{2**64}',
        f'/orders/{10**30}',
        f'/users/{MAX_ID + 1}/orders',
        f'/orders?user_id={MAX_ID + 1}',
        f'/orders?page={10**20}',
        f'/orders?page={MAX_ID}',
        f'/orders?page={MAX_ID // 10 + 2}&page_size=10',
        f'/orders?page_size={10**20}',
        f'/users/1/orders?page={10**20}',
        f'/users/1/orders?page={MAX_ID // 100 + 2}&page_size=100',
        '/orders?page=-1',
        '/orders?page=0',
        '/orders?page=1e3',
        '/orders?page=%2B1',
        '/orders?page=%EF%BC%91',  # a fullwidth digit one
        '/orders?page=%D9%A1',  # an Arabic-Indic digit one
    ],
)
def test_ids_and_pages_beyond_the_columns_are_a_400(client, path):
    for method in ('GET', 'PUT', 'DELETE') if path.startswith('/orders/') else ('GET',):
        response = send(client, method, path, {'status': 'paid'} if method == 'PUT' else None)
        answered(response)
        assert response.status_code == 400, (method, path, response.body)


@pytest.mark.parametrize(
    'path',
    [
        f'/orders?page={MAX_ID // 10 + 1}&page_size=10',
        f'/users/1/orders?page={MAX_ID // 100 + 1}&page_size=100',
        f'/orders/{MAX_ID}',
    ],
)
def test_the_largest_page_and_id_the_columns_hold_are_answered(client, path):
    response = client.http.get(path)
    answered(response)
    assert response.status_code == (404 if path == f'/orders/{MAX_ID}' else 200)


def _quote(text):
    return urllib.parse.quote(text, safe='', errors='surrogatepass')


CONTROL = [
    '\x00',
    '\x01',
    '\x07',
    '\x08',
    '\t',
    '\n',
    '\r',
    '\r\n',
    '\x1b',
    '\x7f',
    '\u0085',
    '\u2028',
    '\u2029',
    '\u202e',
    '\u200b',
    '\ufeff',
    '\ud800',
]


def _char_id(char):
    return 'U+' + '+'.join(f'{ord(c):04X}' for c in char)


@pytest.mark.parametrize('char', [pytest.param(c, id=_char_id(c)) for c in CONTROL])
def test_user_email_holding_a_control_or_invisible_character_is_a_400(client, char):
    emails = [
        f'a{char}b@example.com',
        f'ab@example.com{char}',
        f'{char}ab@example.com',
        f'ab@example.com{char}Bcc: victim@example.com',
        f'"a{char}b"@example.com',
        f'ab@exa{char}mple.com',
    ]
    answers = {}
    for email in emails:
        before = stored()
        response = post(client, order_body(user_email=email))
        answered(response)
        answers[email] = response.status_code
        if response.status_code != 400:
            continue
        assert stored() == before
    assert set(answers.values()) == {400}, answers


@pytest.mark.parametrize('char', CONTROL, ids=[_char_id(c) for c in CONTROL])
def test_control_characters_in_status_headers_and_parameters_are_a_400(client, char):
    order = json_of(post(client, order_body()))
    path = f'/orders/{order["order_id"]}'
    for request in [
        ('PUT', path, {'status': f'paid{char}'}, None),
        ('PUT', path, {'status': 'paid'}, {'If-Match': f'"1"{char}'}),
        ('POST', '/orders', order_body(), {'Idempotency-Key': f'k{char}1'}),
        ('GET', '/orders?status=' + _quote(f'paid{char}'), None, None),
        ('GET', '/orders/' + _quote(f'1{char}'), None, None),
    ]:
        method, target, body, headers = request
        # Whitespace around an If-Match value is not part of it (HTTP's OWS).
        trimmed = headers and 'If-Match' in headers and not char.strip()
        before = stored()
        response = send(client, method, target, body, headers)
        answered(response)
        assert response.status_code == (200 if trimmed else 400), (request, response.body)
        if not trimmed:
            assert stored() == before


MARKUP = [
    '<script>alert(1)</script>@example.com',
    '"<script>alert(1)</script>"@example.com',
    '"<img src=x onerror=alert(1)>"@example.com',
    '"</p><h1>Hi</h1>"@example.com',
    'a@example.com<script>',
    '"\'><svg/onload=alert(1)>"@example.com',
]


def test_markup_in_user_email_is_stored_as_text_and_escaped_in_the_email(client):
    """What the schema accepts is kept verbatim; the HTML email built from it
    shows it as text, and its To header is one address (no injected headers)."""
    accepted = []
    for email in MARKUP:
        before = stored()
        response = post(client, order_body(user_email=email))
        body = answered(response)
        if response.status_code == 201:
            assert body['user_email'] == email
            accepted.append(email)
        else:
            assert response.status_code == 400
            assert stored() == before
    mail_dir = os.environ['MAIL_DIR']
    messages = (
        [
            message_from_bytes(Path(mail_dir, name).read_bytes(), policy=policy.compat32)
            for name in sorted(os.listdir(mail_dir))
        ]
        if accepted
        else []
    )
    assert len(messages) == len(accepted)
    for message in messages:
        # The address as given, verbatim, and no header injected beside it.
        assert message.get_all('To') in [[e] for e in accepted]
        assert message.get_all('Cc') is None and message.get_all('Bcc') is None
        assert not message.defects
        [html] = [
            part.get_payload(decode=True).decode()
            for part in message.walk()
            if part.get_content_type() == 'text/html'
        ]
        assert '<script' not in html and '<img' not in html and '<svg' not in html
        assert '<h1>' not in html


def test_an_address_spelling_an_encoded_word_is_refused(client):
    # The mail library would decode it when setting To, and mail another mailbox.
    email = '"=?utf-8?b?PHNjcmlwdD4=?="@example.com'

    response = post(client, order_body(user_email=email))

    assert response.status_code == 400
    assert 'user_email' in json_of(response)['errors']
    mail_dir = os.environ['MAIL_DIR']
    assert not os.path.isdir(mail_dir) or os.listdir(mail_dir) == []


def _json_values():
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=True)
        | st.decimals(allow_nan=False, allow_infinity=False).map(str).map(float)
        | st.text(max_size=30)
        | st.sampled_from(SQL_INJECTIONS + MARKUP)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    )


_examples = itertools.count()
FIELDS = ['user_id', 'items', 'user_email']
ITEM_FIELDS = ['product_id', 'quantity', 'price_at_order']


@st.composite
def mutated_bodies(draw):
    """A valid body, then a few mutations: a field replaced, dropped or added,
    in the order or in an item; or an item list too long or empty."""
    body = {
        'user_id': draw(st.integers(1, 10**6)),
        'items': [
            {
                'product_id': draw(st.integers(1, 10**6)),
                'quantity': draw(st.integers(1, 10000)),
                'price_at_order': draw(st.integers(0, 9999999)) / 100,
            }
            for _ in range(draw(st.integers(1, 3)))
        ],
    }
    if draw(st.booleans()):
        body['user_email'] = draw(st.sampled_from(['a@example.com', 'b.c@example.org']))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(['order', 'item', 'items']))
        action = draw(st.sampled_from(['replace', 'drop', 'add']))
        target = (
            body
            if where == 'order'
            else body['items'][0]
            if (
                isinstance(body.get('items'), list)
                and body['items']
                and isinstance(body['items'][0], dict)
            )
            else body
        )
        names = FIELDS if target is body else ITEM_FIELDS
        if where == 'items' and isinstance(body.get('items'), list):
            body['items'] = draw(
                st.sampled_from(
                    [[], body['items'][:1] * 101, body['items'] + [draw(_json_values())]]
                )
            )
        elif action == 'replace':
            target[draw(st.sampled_from(names))] = draw(_json_values())
        elif action == 'drop':
            target.pop(draw(st.sampled_from(names)), None)
        else:
            target[draw(st.text(max_size=10))] = draw(_json_values())
    return body


@st.composite
def raw_bodies(draw):
    kind = draw(st.sampled_from(['mutated', 'mutated', 'mutated', 'any', 'bytes', 'cut']))
    if kind == 'any':
        return json.dumps(draw(_json_values()))
    if kind == 'bytes':
        return draw(st.binary(max_size=60))
    text = json.dumps(draw(mutated_bodies()))
    if kind == 'cut':
        return text[: draw(st.integers(0, len(text)))]
    return text


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw=raw_bodies(),
    key=st.none()
    | st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20),
)
def test_any_body_is_a_201_or_a_400_and_a_400_stores_nothing(client, raw, key):
    # A key of its own for each example: a reused key would rightly be a 422.
    headers = {'Idempotency-Key': f'{next(_examples)}-{key}'} if key is not None else None
    before = stored()

    response = post(client, raw=raw, headers=headers)

    body = answered(response)
    too_large = len(raw.encode() if isinstance(raw, str) else raw) > 64 * 1024
    assert response.status_code in ((413,) if too_large else (201, 400)), (
        response.status_code,
        response.body[:300],
    )
    if response.status_code in (400, 413):
        assert stored() == before
        assert body['Code'] in ('BadRequestError', 'RequestEntityTooLargeError')
    else:
        orders, items, events, _keys = stored()
        assert (orders, events) == (before[0] + 1, before[2] + 1)
        assert items == before[1] + len(body['items'])
        assert math.isclose(
            body['order_total'],
            sum(i['quantity'] * i['price_at_order'] for i in body['items']),
            abs_tol=0.005,
        )
