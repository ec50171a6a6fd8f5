"""Small helpers for driving the app through chalice.test.Client."""

import json
import os
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib import __version__
from chalicelib.storage import connection

JSON = {'Content-Type': 'application/json'}
# What GET /health answers while the database does.
HEALTHY = {'status': 'ok', 'database': 'ok', 'version': __version__}
# And while it does not (a 503).
UNHEALTHY = {'status': 'error', 'database': 'unreachable', 'version': __version__}

# For an HTTP case the schema refuses before any database work (tests/unit/test_schemas.py
# proves the rule itself): on MariaDB it would prove nothing more.
sqlite_only = pytest.mark.parametrize('database_url', ['sqlite'], indirect=True)

# A shipping address the address rules accept, in a zone the totals tests tax
# (US-IL): every module that places, quotes, changes or races orders with one.
ILLINOIS = {
    'name': 'Ada Lovelace',
    'line1': '12 Main St',
    'city': 'Springfield',
    'region': 'IL',
    'postal_code': '62704',
    'country': 'US',
}


def order_body(user_id=1, items=None, **extra):
    body = {
        'user_id': user_id,
        'items': items
        or [
            {'product_id': 101, 'quantity': 2, 'price_at_order': 29.99},
            {'product_id': 102, 'quantity': 1, 'price_at_order': 49.99},
        ],
    }
    body.update(extra)
    return body


def item(product_id=101, quantity=1, price_at_order=Decimal('1.00'), **extra):
    """One order line; a Decimal price is sent with its exact digits."""
    return {
        'product_id': product_id,
        'quantity': quantity,
        'price_at_order': price_at_order,
        **extra,
    }


def to_json(body):
    """JSON with each Decimal written as its exact digits (29.999 stays 29.999),
    as a client that never touches floats would send it."""
    exact = {}

    def default(value):
        if not isinstance(value, Decimal):
            raise TypeError(type(value))
        marker = f'@@decimal{len(exact)}@@'
        exact[marker] = str(value)
        return marker

    text = json.dumps(body, default=default)
    for marker, digits in exact.items():
        text = text.replace(f'"{marker}"', digits)
    return text


def send(client, method, path, body=None, headers=None, raw=None):
    """Send a request; `body` is JSON-encoded, `raw` is sent as it is."""
    payload = raw if raw is not None else (to_json(body) if body is not None else None)
    response = client.http.request(method, path, headers={**JSON, **(headers or {})}, body=payload)
    return response


def json_of(response):
    return json.loads(response.body) if response.body else None


def create_order(client, headers=None, **kwargs):
    response = send(client, 'POST', '/orders', order_body(**kwargs), headers)
    assert response.status_code == 201, response.body
    return json_of(response)


def stored_key(key):
    """An Idempotency-Key as the service stores it for the default (staff)
    caller of the `client` fixture: keys are scoped to their sender."""
    from chalicelib.identity.dev_issuer import DevIssuer
    from chalicelib.identity.principal import Principal
    from chalicelib.orders.idempotency import scoped_key

    sub = DevIssuer().claims(role='staff')['sub']
    return scoped_key(Principal(sub=sub, role='staff'), key)


def iso(moment):
    """A naive UTC datetime as the contract writes it."""
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class Clock:
    """A clock to give the service (OrderService(clock=...), relay(clock=...)):
    it reads `now`, which moves only by `advance` or, after each reading, by
    `step`."""

    def __init__(self, now, step=timedelta(0)):
        self.now = now
        self.step = step

    def __call__(self):
        now = self.now
        self.now += self.step
        return now

    def advance(self, delta):
        self.now += delta


# How to bring a new (pending) order to each status, along the lifecycle's arrows.
PATH_TO = {
    'pending': [],
    'paid': ['paid'],
    'shipped': ['shipped'],
    'delivered': ['shipped', 'delivered'],
    'cancelled': ['cancelled'],
}


def bearer(token):
    """The Authorization header that sends this token."""
    return {'Authorization': f'Bearer {token}'}


def put(client, order_id, change, headers=None):
    """PUT /orders/{order_id}: `change` is the body, or a status alone."""
    body = {'status': change} if isinstance(change, str) else change
    return send(client, 'PUT', f'/orders/{order_id}', body, headers)


def changed(client, order_id, change, headers=None):
    """A PUT that must succeed; the order it answers."""
    response = put(client, order_id, change, headers)
    assert response.status_code == 200, response.body
    return json_of(response)


def order_in(client, status, **kwargs):
    """A new order, brought to `status` along PATH_TO."""
    order = create_order(client, **kwargs)
    for step in PATH_TO[status]:
        response = put(client, order['order_id'], step)
        assert response.status_code == 200, response.body
        order = json_of(response)
    assert order['status'] == status
    return order


def error_of(response, status, code):
    """The contract's error answer: this status and Code, a Message, optional
    field errors and nothing else (no traceback). Returns the body."""
    assert response.status_code == status, response.body
    body = json_of(response)
    assert body['Code'] == code
    assert isinstance(body['Message'], str) and body['Message']
    assert set(body) <= {'Code', 'Message', 'errors'}
    assert b'Traceback' not in response.body
    return body


def field_errors(response):
    """A 400 that says which fields are wrong; returns those errors."""
    body = error_of(response, 400, 'BadRequestError')
    assert body.get('errors'), body
    return body['errors']


class LambdaContext:
    """What Lambda hands a function, as far as the service and Powertools read it."""

    function_name = 'orders'
    memory_limit_in_mb = 512
    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:orders'

    def __init__(self, remaining_ms=30000):
        import uuid

        self.aws_request_id = str(uuid.uuid4())
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


# Products 101 and 102 at the prices order_body() sends, so that a customer's
# order_body() is priced from the catalog exactly as before catalogs existed.
CATALOG = {
    101: {'sku': 'MUG-BLUE', 'name': 'Blue mug', 'unit_price': Decimal('29.99'), 'currency': 'USD'},
    102: {
        'sku': 'TEE-BLACK-M',
        'name': 'Black T-shirt, M',
        'unit_price': Decimal('49.99'),
        'currency': 'USD',
    },
}


def put_product(client, product_id, headers=None, **body):
    """PUT a product (as the client's default caller, staff); its answer."""
    response = send(client, 'PUT', f'/products/{product_id}', body, headers)
    assert response.status_code in (200, 201), response.body
    return json_of(response)


def stock_catalog(client, products=None):
    for product_id, body in (products or CATALOG).items():
        put_product(client, product_id, **body)


def scheduled_event():
    """What EventBridge hands a scheduled function (a Rate rule's event)."""
    return {
        'version': '0',
        'account': '123456789012',
        'region': 'us-east-1',
        'detail': {},
        'detail-type': 'Scheduled Event',
        'source': 'aws.events',
        'time': '2026-11-25T12:00:00Z',
        'id': str(uuid.uuid4()),
        'resources': [],
    }


# The tests' own connections (pymysql.connect(**MARIADB)) are plain TCP, as
# the service's local stage is (no DB_SSL_CA: ssl_disabled). Without it
# PyMySQL builds a TLS context for every connection, loading the system's
# CA store (about 24 ms of CPU), to offer a TLS the test server does not have.
MARIADB = dict(
    host=os.environ.get('TEST_MARIADB_HOST', '127.0.0.1'),
    port=int(os.environ.get('TEST_MARIADB_PORT', '3306')),
    user=os.environ.get('TEST_MARIADB_USER', 'root'),
    password=os.environ.get('TEST_MARIADB_PASSWORD', ''),
    ssl_disabled=True,
)


IN_CI = os.environ.get('CI', '').lower() in ('1', 'true', 'yes')


def mariadb_url(name):
    auth = MARIADB['user'] + (f':{MARIADB["password"]}' if MARIADB['password'] else '')
    return f'mysql://{auth}@{MARIADB["host"]}:{MARIADB["port"]}/{name}'


def trust(issuer, monkeypatch):
    """Configure the service to accept the test issuer's tokens."""
    auth = issuer.auth_settings()
    monkeypatch.setenv('AUTH_ISSUER', auth.issuer)
    monkeypatch.setenv('AUTH_AUDIENCE', ','.join(auth.audiences))
    monkeypatch.setenv('AUTH_JWKS_URL', auth.jwks_url)


def _with_authorization(request, default):
    def send(method, path, headers=None, body=b''):
        headers = {'Authorization': default, **(headers or {})}
        if headers['Authorization'] is None:
            del headers['Authorization']
        return request(method, path, headers=headers, body=body)

    return send


def staff_client(app, staff_token):
    from chalice.test import Client

    test_client = Client(app, stage_name='local')
    test_client.http.request = _with_authorization(
        test_client.http.request, f'Bearer {staff_token}'
    )
    return test_client


# A moment of the tests' own, full of zeros: no test reads today's date.
FROZEN_AT = datetime(2030, 1, 1, 0, 0, 5)


REGION = 'us-east-1'


SENDER = 'orders@shop.example.com'


def sent_emails():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def idle_long_enough(frozen_clock):
    """Age the warm connection so its next use pings it first, as after a
    container sat idle between invocations."""
    frozen_clock.advance(connection.IDLE_PING_SECONDS + 1)


EVENT_KEYS = {
    'event_id',
    'event_type',
    'order_id',
    'user_id',
    'user_email',
    'status',
    'order_total',
    'currency',
    'timestamp',
}
# What order_created adds: the breakdown of its total.
BREAKDOWN = {'subtotal', 'discount_total', 'shipping_total', 'tax_total'}


WINDOW = timedelta(hours=1)


def place(client, quantity=1):
    response = send(
        client,
        'POST',
        '/orders',
        {
            'user_id': 1,
            'user_email': 'ada@example.com',
            'items': [{'product_id': 101, 'quantity': quantity}],
        },
    )
    assert response.status_code == 201, response.body
    return json_of(response)['order_id']


def run_expiry(client):
    event = client.events.generate_cw_event(
        source='aws.events', detail_type='Scheduled Event', detail={}, resources=[]
    )
    return client.lambda_.invoke('expire_unpaid', event).payload


def api_gateway_event(method, resource, token, **path_parameters):
    """What API Gateway (REST, v1 proxy) hands the function for one request,
    as far as Chalice reads it: for app.app(event, context) in a process of
    its own, where chalice.test would load more than Lambda does."""
    path = resource.format(**path_parameters)
    headers = {'Accept': 'application/json', 'Authorization': f'Bearer {token}'}
    return {
        'resource': resource,
        'path': path,
        'httpMethod': method,
        'headers': headers,
        'multiValueHeaders': {name: [value] for name, value in headers.items()},
        'queryStringParameters': None,
        'multiValueQueryStringParameters': None,
        'pathParameters': {name: str(value) for name, value in path_parameters.items()} or None,
        'stageVariables': None,
        'requestContext': {
            'resourcePath': resource,
            'httpMethod': method,
            'path': f'/api{path}',
            'stage': 'api',
            'requestId': 'cold-start',
            'identity': {'sourceIp': '198.51.100.7'},
        },
        'body': None,
        'isBase64Encoded': False,
    }


def drop_columns(database, table, names):
    """Take a later release's columns off a table, to stand for the database
    of a release before them (the migration tests upgrade it again)."""
    if connection.is_sqlite():
        for name in names:
            database.execute_sql(f'ALTER TABLE {table} DROP COLUMN {name}')
    else:
        # FORCE: a rebuild, so that the columns are gone for good. MariaDB
        # drops a column instantly by hiding it, and the hidden ones of many
        # runs would add up to more than a row may hold.
        database.execute_sql(
            f'ALTER TABLE {table} ' + ', '.join(f'DROP COLUMN {name}' for name in names) + ', FORCE'
        )
