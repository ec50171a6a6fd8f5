"""`make smoke` (tools/smoke.py) against `make run`: chalice local on the
local stage, a temporary SQLite and mail directory, trusting the test run's
token issuer, on a free loopback port. The whole walk needs the catalog
(GET /products, customer items priced by the server); the steps before it
and after the order exists are each run against the real server here too.
A stand-in server that breaks one promise shows the walk stops there, exits
1 and cleans up what it created."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from tests.local_service import free_port, make_run
from tools import smoke

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER_ID = 4242
TIMEOUT = 30


@pytest.fixture(scope='module')
def local_service(tmp_path_factory, issuer) -> Iterator[str]:
    with make_run(tmp_path_factory.mktemp('smoke-service'), issuer) as base:
        yield base


@pytest.fixture
def customer_token(issuer) -> str:
    return issuer.mint(user_id=CUSTOMER_ID, email='smoke@example.com')


def printed_steps(output: str) -> list[str]:
    return re.findall(r'^\s*\d+\. (\S+)', output, re.MULTILINE)


def run_smoke(url: str, token: str, staff_token: str = '') -> subprocess.CompletedProcess:
    """As `make smoke` runs it: the tokens in the environment."""
    env = {**os.environ, 'TOKEN': token, 'STAFF_TOKEN': staff_token}
    return subprocess.run(
        [sys.executable, 'tools/smoke.py', url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_smoke_walks_the_main_flow_against_make_run(local_service, customer_token, staff_token):
    result = run_smoke(local_service, customer_token, staff_token)

    steps = printed_steps(result.stdout)
    assert result.returncode == 0, f'stopped after {steps}: {result.stderr}'
    assert steps == [
        'health',
        'catalog',
        'create',
        'read',
        'list',
        'cancel',
        'history',
        'delete',
        'gone',
    ]
    assert result.stdout.rstrip().endswith('OK: 9 steps')


def test_smoke_health_step_passes_against_make_run(local_service, customer_token):
    out = StringIO()
    walk = smoke.Smoke(base_url=local_service, token=customer_token, out=out)

    walk.health()

    assert ' health ' in out.getvalue() and ' 200 ' in out.getvalue()


def _staff_places_order_for_the_customer(base: str, staff_token: str) -> dict[str, Any]:
    """An order like the smoke's own, made without the catalog: staff prices it."""
    request = urllib.request.Request(
        f'{base}/orders',
        method='POST',
        data=json.dumps(
            {
                'user_id': CUSTOMER_ID,
                'items': [{'product_id': 101, 'quantity': 1, 'price_at_order': 29.99}],
            }
        ).encode(),
        headers={'Authorization': f'Bearer {staff_token}', 'Content-Type': 'application/json'},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.loads(response.read())


def test_smoke_steps_after_the_order_exists_pass_against_make_run(
    local_service, customer_token, staff_token
):
    order = _staff_places_order_for_the_customer(local_service, staff_token)
    out = StringIO()
    walk = smoke.Smoke(
        base_url=local_service, token=customer_token, staff_token=staff_token, out=out
    )
    walk.uncancelled.append(order['order_id'])
    walk.undeleted.append(order['order_id'])

    walk.read_order(order)
    walk.find_in_list(order)
    walk.cancel(order)
    walk.history(order)
    walk.delete(order)
    walk.clean_up()

    assert printed_steps(out.getvalue()) == ['read', 'list', 'cancel', 'history', 'delete', 'gone']
    assert walk.uncancelled == [] and walk.undeleted == []


# --- A stand-in that breaks one promise ---------------------------------------

PRODUCT = {
    'product_id': 7,
    'sku': 'MUG',
    'name': 'Mug',
    'unit_price': 29.99,
    'currency': 'USD',
    'active': True,
    'stock': {'available': 3},
}


class Shop(BaseHTTPRequestHandler):
    """Answers like the service, but prices the order wrong; records every request."""

    seen: list[tuple[str, str, Any]] = []
    idempotency_keys: list[str | None] = []
    no_catalog = False

    def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        raw = b'' if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> Any:
        length = int(self.headers.get('Content-Length') or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_GET(self) -> None:
        self.seen.append(('GET', self.path, None))
        if self.path == '/health':
            self._answer(200, {'status': 'ok', 'database': 'ok'})
        elif self.path.startswith('/products') and self.no_catalog:
            # What API Gateway answers for a route it does not know.
            self._answer(
                403,
                {
                    'message': "Authorization header requires 'Credential' "
                    f'parameter. Authorization={self.headers["Authorization"]}'
                },
            )
        elif self.path.startswith('/products'):
            self._answer(200, {'products': [PRODUCT], 'next_cursor': None})
        else:
            self._answer(404, {'Code': 'NotFoundError', 'Message': 'no'})

    def do_POST(self) -> None:
        self.seen.append(('POST', self.path, self._body()))
        self.idempotency_keys.append(self.headers.get('Idempotency-Key'))
        order = {
            'order_id': 5,
            'status': 'pending',
            'version': 1,
            'currency': 'USD',
            'order_total': 19.99,
            'items': [{'product_id': 7, 'quantity': 1, 'price_at_order': 19.99}],
        }
        self._answer(201, order, {'Location': '/orders/5', 'ETag': '"1"'})

    def do_PUT(self) -> None:
        self.seen.append(('PUT', self.path, self._body()))
        self._answer(200, {'order_id': 5, 'status': 'cancelled', 'version': 2})

    def do_DELETE(self) -> None:
        self.seen.append(('DELETE', self.path, None))
        self._answer(204)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def mispricing_shop() -> Iterator[str]:
    Shop.seen, Shop.idempotency_keys, Shop.no_catalog = [], [], False
    server = ThreadingHTTPServer(('127.0.0.1', free_port()), Shop)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


def test_smoke_stops_at_the_first_broken_promise_and_cleans_up(mispricing_shop):
    result = run_smoke(mispricing_shop, 'customer-token', 'staff-token')

    assert result.returncode == 1
    assert 'priced 19.99, the catalog says 29.99' in result.stderr
    calls = [(method, path) for method, path, _ in Shop.seen]
    assert calls == [
        ('GET', '/health'),
        ('GET', '/products?page_size=100'),
        ('POST', '/orders'),
        ('PUT', '/orders/5'),
        ('DELETE', '/orders/5'),
    ]
    create, cancel = Shop.seen[2][2], Shop.seen[3][2]
    assert create == {'items': [{'product_id': 7, 'quantity': 1}]}
    assert cancel == {'status': 'cancelled', 'reason': 'smoke test'}


def test_smoke_marks_its_orders_with_an_idempotency_key_prefix(mispricing_shop):
    run_smoke(mispricing_shop, 'customer-token')

    [key] = Shop.idempotency_keys
    assert key.startswith('smoke-') and len(key) > len('smoke-') + 30


def test_smoke_never_prints_a_token_an_answer_quotes(mispricing_shop):
    Shop.no_catalog = True
    token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl'

    result = run_smoke(mispricing_shop, token)

    assert result.returncode == 1
    assert 'Authorization=Bearer <token>' in result.stderr
    assert token[:12] not in result.stdout + result.stderr


def test_smoke_refuses_to_start_without_a_url_and_a_token():
    result = run_smoke('', '')

    assert result.returncode == 2
    assert 'make smoke URL=... TOKEN=...' in result.stderr


def test_smoke_takes_a_local_address_without_a_scheme_as_http(mispricing_shop):
    address = mispricing_shop.removeprefix('http://')

    result = run_smoke(address, 'customer-token')

    assert f'URL taken as http://{address}' in result.stdout
    assert re.search(r'1\. health +GET +/health +200 ', result.stdout), result.stdout
    assert 'unknown url type' not in result.stderr and 'Traceback' not in result.stderr


@pytest.mark.parametrize('url', ['ftp://example.com/api', 'localhost:port', 'http:///api'])
def test_smoke_says_what_is_wrong_with_a_url_it_cannot_use(url):
    result = run_smoke(url, 'customer-token')

    assert result.returncode == 2
    assert f'URL={url!r} is not a stage URL' in result.stderr
    assert 'Traceback' not in result.stderr
