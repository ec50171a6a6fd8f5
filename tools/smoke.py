"""Smoke test of a deployed stage: the main flow against its real endpoint.

    make smoke URL=https://abc.execute-api.eu-west-1.amazonaws.com/api TOKEN=... [STAFF_TOKEN=...]

TOKEN is a customer's bearer token (use a test account of the shop: the run
places a real order for it), STAFF_TOKEN an optional staff token. The tokens
are read from the environment (TOKEN, STAFF_TOKEN), never from the command
line, where other users of the machine could read them.

Steps: health; the catalog (an active product that can still be sold); the
shop's shipping methods in its currency (a shop that has some wants each
customer order to name one and an address it ships to: the run picks the
first that ships to one of a few sample addresses, or ADDRESS, a JSON
address in the environment); an order of one unit as the customer, priced
by the server; read it; find it in
the customer's list; cancel it; its history. Each step prints its status and
time; the first answer that breaks a promise stops the run with exit status 1.

What it leaves behind: one cancelled order (its stock released), created
with an Idempotency-Key starting with `smoke-` and cancelled with the reason
`smoke test`, so it is easy to tell apart. With STAFF_TOKEN the order is
deleted at the end. A run that stops after the order was created still
cancels (and, with STAFF_TOKEN, deletes) it.

Standard library only: it runs from any checkout, without the venv."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO

IDEMPOTENCY_PREFIX = 'smoke-'
CANCEL_REASON = 'smoke test'
# API Gateway quotes the Authorization header in some refusals (a route it
# does not know): a printed answer must never carry a token.
BEARER = re.compile(r'Bearer\s+[A-Za-z0-9._~+/=-]+', re.IGNORECASE)
CATALOG_PAGES = 10  # pages of 100 products searched for one that can be sold
# Where the order goes when the shop ships: one real-looking address per
# country (valid by its country's rules), the first a method ships to wins.
SAMPLE_ADDRESSES = {
    'US': {'line1': '12 Main St', 'city': 'Springfield', 'region': 'IL', 'postal_code': '62704'},
    'CA': {'line1': '1 Front St W', 'city': 'Toronto', 'region': 'ON', 'postal_code': 'M5J 2X5'},
    'GB': {'line1': '10 Downing St', 'city': 'London', 'postal_code': 'SW1A 2AA'},
    'DE': {'line1': 'Unter den Linden 1', 'city': 'Berlin', 'postal_code': '10117'},
    'FR': {'line1': '1 Rue de Rivoli', 'city': 'Paris', 'postal_code': '75001'},
    'JP': {
        'line1': '1-1 Marunouchi',
        'city': 'Chiyoda-ku',
        'region': '13',
        'postal_code': '100-0005',
    },
}
TIMEOUT_SECONDS = 30.0


class BrokenPromise(Exception):
    """An answer the service's API does not allow."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Smoke:
    base_url: str
    token: str
    staff_token: str | None = None
    address: dict[str, Any] | None = None  # ADDRESS: where the order goes, if the shop ships
    out: TextIO = sys.stdout
    timeout: float = TIMEOUT_SECONDS
    steps: int = 0
    # What the run created and has not yet cancelled or deleted.
    uncancelled: list[int] = field(default_factory=list)
    undeleted: list[int] = field(default_factory=list)

    def call(
        self,
        step: str,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        expect: int = 200,
        expect_any: tuple[int, ...] = (),
    ) -> Answer:
        """One request, printed as a step; a status other than `expect` breaks a promise."""
        self.steps += 1
        request = urllib.request.Request(self.base_url + path, method=method)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if token:
            request.add_header('Authorization', f'Bearer {token}')
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header('Content-Type', 'application/json')
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, data=data, timeout=self.timeout) as response:
                answer = _answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            answer = _answer(error.code, error.headers, error.read())
        except (OSError, ValueError, http.client.HTTPException) as error:
            # No answer, or no HTTP one: a closed port, a server that speaks
            # something else, a URL urllib cannot use.
            elapsed = (time.monotonic() - started) * 1000
            self._print(step, method, path, 'ERR', elapsed)
            raise BrokenPromise(f'{method} {path}: no answer ({error})') from error
        elapsed = (time.monotonic() - started) * 1000
        self._print(step, method, path, str(answer.status), elapsed)
        if answer.status not in (expect_any or (expect,)):
            raise BrokenPromise(
                f'{method} {path}: expected {expect}, got {answer.status}: '
                f'{self.redact(_short(answer.body))}'
            )
        return answer

    def redact(self, text: str) -> str:
        for token in (self.token, self.staff_token):
            if token:
                text = text.replace(token, '<token>')
        return BEARER.sub('Bearer <token>', text)

    def _print(self, step: str, method: str, path: str, status: str, elapsed_ms: float) -> None:
        print(
            f'{self.steps:>2}. {step:<12} {method:<6} {path:<40} {status:>3} {elapsed_ms:7.0f} ms',
            file=self.out,
            flush=True,
        )

    def run(self) -> None:
        try:
            self.health()
            product = self.pick_product()
            order = self.create_order(product, self.delivery(product['currency']))
            self.read_order(order)
            self.find_in_list(order)
            self.cancel(order)
            self.history(order)
            if self.staff_token:
                self.delete(order)
        finally:
            self.clean_up()

    def health(self) -> None:
        answer = self.call('health', 'GET', '/health')
        check(
            answer.body.get('status') == 'ok' and answer.body.get('database') == 'ok',
            f'health said {answer.body}',
        )

    def pick_product(self) -> dict[str, Any]:
        """The first active product of the catalog with a unit available (or
        stock not tracked), as a customer sees it."""
        query: dict[str, str] = {'page_size': '100'}
        for _ in range(CATALOG_PAGES):
            path = '/products?' + urllib.parse.urlencode(query)
            body = self.call('catalog', 'GET', path, self.token).body
            check(
                isinstance(body, dict) and isinstance(body.get('products'), list),
                f'GET /products answered no product list: {_short(body)}',
            )
            for product in body['products']:
                if product.get('active') and _can_sell_one(product.get('stock')):
                    return product
            if not body.get('next_cursor'):
                break
            query = {'page_size': '100', 'cursor': body['next_cursor']}
        raise BrokenPromise(
            'the catalog has no active product with a unit available: '
            'put one with PUT /products/{id} before the smoke test'
        )

    def delivery(self, currency: str) -> dict[str, Any]:
        """What the order adds to name its shipping: nothing for a shop with no
        method in the product's currency (or a stage from before shipping
        methods, which answers 404), else the first method that ships to the
        given ADDRESS or to one of the sample addresses, with that address."""
        path = '/shipping-methods?' + urllib.parse.urlencode(
            {'currency': currency, 'page_size': '100'}
        )
        answer = self.call('shipping', 'GET', path, self.token, expect_any=(200, 404))
        methods = answer.body.get('shipping_methods') if answer.status == 200 else []
        check(
            isinstance(methods, list), f'GET {path} answered no method list: {_short(answer.body)}'
        )
        if not methods:
            return {}
        addresses = (
            {self.address.get('country'): self.address}
            if self.address
            else {
                country: {'name': 'Smoke Test', 'country': country, **fields}
                for country, fields in SAMPLE_ADDRESSES.items()
            }
        )
        for method in methods:
            for country in method.get('countries') or []:
                if country in addresses:
                    return {
                        'shipping_method': method['code'],
                        'shipping_address': addresses[country],
                    }
        raise BrokenPromise(
            f'no shipping method in {currency} ships to {", ".join(map(str, addresses))}: '
            'give ADDRESS=\'{"name": ..., "line1": ..., "city": ..., "postal_code": ..., '
            '"country": ...}\' in one of the countries the shop ships to'
        )

    def create_order(
        self, product: dict[str, Any], delivery: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        key = f'{IDEMPOTENCY_PREFIX}{uuid.uuid4()}'
        answer = self.call(
            'create',
            'POST',
            '/orders',
            self.token,
            expect=201,
            body={
                'items': [{'product_id': product['product_id'], 'quantity': 1}],
                **(delivery or {}),
            },
            headers={'Idempotency-Key': key},
        )
        order = answer.body
        self.uncancelled.append(order['order_id'])
        self.undeleted.append(order['order_id'])
        check(
            answer.headers.get('location') == f'/orders/{order["order_id"]}',
            f'Location {answer.headers.get("location")!r} does not name the order',
        )
        check(order['status'] == 'pending', f'a new order is {order["status"]!r}')
        [item] = order['items']
        unit_price = Decimal(str(product['unit_price']))
        check(
            item['product_id'] == product['product_id'] and item['quantity'] == 1,
            f'the order holds {item}, not one of product {product["product_id"]}',
        )
        check(
            Decimal(str(item['price_at_order'])) == unit_price,
            f'priced {item["price_at_order"]}, the catalog says {unit_price}',
        )
        # Shipping and tax may come on top of the line: the total must add up
        # from the order's own parts, and the line's part be the catalog's price.
        subtotal = Decimal(str(order.get('subtotal', order['order_total'])))
        parts = (
            subtotal
            - Decimal(str(order.get('discount_total', 0)))
            + Decimal(str(order.get('shipping_total', 0)))
            + (0 if order.get('prices_include_tax') else Decimal(str(order.get('tax_total', 0))))
        )
        check(subtotal == unit_price, f'subtotal {subtotal} for one unit at {unit_price}')
        check(
            Decimal(str(order['order_total'])) == parts,
            f'total {order["order_total"]}, its parts add up to {parts}',
        )
        check(
            order.get('currency') == product['currency'],
            f'currency {order.get("currency")!r}, the product is in {product["currency"]!r}',
        )
        return order

    def read_order(self, order: dict[str, Any]) -> None:
        answer = self.call('read', 'GET', f'/orders/{order["order_id"]}', self.token)
        check(answer.body == order, 'the order read back differs from the one created')
        check(
            answer.headers.get('etag') == f'"{order["version"]}"',
            f'ETag {answer.headers.get("etag")!r} for version {order["version"]}',
        )

    def find_in_list(self, order: dict[str, Any]) -> None:
        body = self.call('list', 'GET', '/orders?page_size=100', self.token).body
        listed = [entry['order_id'] for entry in body['orders']]
        check(
            order['order_id'] in listed,
            f'order {order["order_id"]} is not on the first page of the list',
        )

    def cancel(self, order: dict[str, Any]) -> None:
        answer = self.call(
            'cancel',
            'PUT',
            f'/orders/{order["order_id"]}',
            self.token,
            body={'status': 'cancelled', 'reason': CANCEL_REASON},
            headers={'If-Match': f'"{order["version"]}"'},
        )
        self.uncancelled.remove(order['order_id'])
        check(answer.body['status'] == 'cancelled', f'cancel left it {answer.body["status"]!r}')
        check(
            answer.body['version'] == order['version'] + 1,
            f'version {answer.body["version"]} after one change of {order["version"]}',
        )

    def history(self, order: dict[str, Any]) -> None:
        body = self.call('history', 'GET', f'/orders/{order["order_id"]}/history', self.token).body
        check(isinstance(body, list), f'history is not a list: {_short(body)}')
        steps = [(entry['version'], entry['status']) for entry in body]
        check(
            steps == [(1, 'pending'), (2, 'cancelled')],
            f'history is {steps}, not created then cancelled',
        )
        check(
            body[-1].get('reason') == CANCEL_REASON,
            f"the cancellation's reason is {body[-1].get('reason')!r}",
        )

    def delete(self, order: dict[str, Any]) -> None:
        self.call('delete', 'DELETE', f'/orders/{order["order_id"]}', self.staff_token, expect=204)
        self.undeleted.remove(order['order_id'])
        self.call('gone', 'GET', f'/orders/{order["order_id"]}', self.staff_token, expect=404)

    def clean_up(self) -> None:
        """What a stopped run created: cancelled (releasing its stock), and
        deleted with a staff token. Best effort: the run has already failed."""
        for order_id in list(self.uncancelled):
            self._try(
                'clean up',
                'PUT',
                f'/orders/{order_id}',
                self.token,
                {'status': 'cancelled', 'reason': CANCEL_REASON},
                200,
            )
        if self.staff_token:
            for order_id in list(self.undeleted):
                self._try('clean up', 'DELETE', f'/orders/{order_id}', self.staff_token, None, 204)

    def _try(
        self, step: str, method: str, path: str, token: str | None, body: Any, expect: int
    ) -> None:
        try:
            self.call(step, method, path, token, body=body, expect=expect)
        except BrokenPromise as error:
            print(f'    {error}', file=self.out)


def _answer(status: int, headers: Any, raw: bytes) -> Answer:
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors='replace')
    return Answer(status, lowered, body)


def _can_sell_one(stock: Any) -> bool:
    return stock is None or (isinstance(stock, dict) and stock.get('available', 0) >= 1)


def _short(body: Any, limit: int = 300) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    return text if len(text) <= limit else text[:limit] + '...'


def check(condition: bool, broken: str) -> None:
    if not condition:
        raise BrokenPromise(broken)


# Hosts `make run` answers on, in plain HTTP.
LOCAL_HOSTS = ('localhost', '127.0.0.1', '::1')


def stage_url(text: str) -> str:
    """The stage's base URL from what was given. Without a scheme, a local
    address (`localhost:8000`, what `make run` serves) is taken as http://,
    any other as https://; anything but an http(s) URL with a host (and a
    whole-number port, if any) is a ValueError saying what is wrong."""
    url = text.strip().rstrip('/')
    if '://' not in url:
        host = urllib.parse.urlsplit('//' + url).hostname or ''
        url = f'{"http" if host in LOCAL_HOSTS else "https"}://{url}'
    parts = urllib.parse.urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ('http', 'https') or not parts.hostname or not port_ok:
        raise ValueError(
            f'URL={text!r} is not a stage URL: give https://<api-id>.execute-api.<region>'
            '.amazonaws.com/api, or localhost:8000 for make run'
        )
    return url


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    parser = argparse.ArgumentParser(
        prog='tools/smoke.py',
        description='Walk the main flow against a deployed stage (tokens from the '
        'environment: TOKEN, a customer; STAFF_TOKEN, optional).',
    )
    parser.add_argument('url', help='the stage URL, e.g. https://.../api')
    parser.add_argument(
        '--timeout', type=float, default=TIMEOUT_SECONDS, help='seconds to wait for each answer'
    )
    args = parser.parse_args(argv)
    token = environ.get('TOKEN', '').strip()
    if not args.url.strip() or not token:
        parser.error('give the stage URL and a customer token: make smoke URL=... TOKEN=...')
    try:
        base_url = stage_url(args.url)
    except ValueError as error:
        parser.error(str(error))
    address = None
    if environ.get('ADDRESS', '').strip():
        try:
            address = json.loads(environ['ADDRESS'])
        except ValueError as error:
            parser.error(f'ADDRESS is not JSON: {error}')
        if not isinstance(address, dict) or not isinstance(address.get('country'), str):
            parser.error('ADDRESS is a JSON object with a "country", as an order\'s address')
    smoke = Smoke(
        base_url=base_url,
        token=token,
        staff_token=environ.get('STAFF_TOKEN', '').strip() or None,
        address=address,
        timeout=args.timeout,
    )
    if base_url != args.url.strip().rstrip('/'):
        print(f'URL taken as {base_url}', file=smoke.out)
    try:
        smoke.run()
    except BrokenPromise as error:
        print(f'FAILED: {error}', file=sys.stderr)
        return 1
    print(f'OK: {smoke.steps} steps', file=smoke.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
