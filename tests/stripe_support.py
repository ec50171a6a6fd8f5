"""Stripe without a Stripe account, for the tests: localstripe (a stateful
fake Stripe server) in a process of its own, a proxy in front of it that
records every call and can play down, slow or broken, and webhook bodies
signed exactly as Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chalicelib.storage.models import Outbox
from tests.support import LambdaContext, create_order, json_of, scheduled_event, send

ROOT = Path(__file__).resolve().parents[1]
API_KEY = 'sk_test_orders'
WEBHOOK_SECRET = 'whsec_orders_test_secret'
# The tests' deployment name in Stripe (STRIPE_NAMESPACE).
NAMESPACE = 'orders-test'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class LocalStripe:
    """localstripe on 127.0.0.1:<port>, state in memory."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'tools.localstripe_server', '--port', str(self.port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError('localstripe did not start') from None
                time.sleep(0.05)
        self.url = f'http://127.0.0.1:{self.port}'

    def client(self) -> Any:
        import stripe

        return stripe.StripeClient(API_KEY, base_addresses={'api': self.url})

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class FaultyStripe:
    """An HTTP proxy to localstripe that records each call (method, path,
    Idempotency-Key) and answers as `mode` says: 'ok' (forward), 'down'
    (close the connection unanswered), 'slow' (forward, after `delay`
    seconds), '500' (a Stripe-shaped server error), '400' (a refusal)."""

    def __init__(self, upstream: LocalStripe, delay: float = 2.0) -> None:
        self.upstream = upstream
        self.mode = 'ok'
        self.delay = delay
        self.calls: list[tuple[str, str, str | None]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                proxy.calls.append((self.command, self.path, self.headers.get('Idempotency-Key')))
                mode = proxy.mode
                if mode == 'down':
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode in ('500', '400'):
                    status = int(mode)
                    self._answer(
                        status,
                        json.dumps(
                            {
                                'error': {
                                    'type': 'api_error'
                                    if status == 500
                                    else 'invalid_request_error',
                                    'message': 'injected by the test',
                                }
                            }
                        ).encode(),
                    )
                    return
                if mode == 'slow':
                    time.sleep(proxy.delay)
                upstream = http.client.HTTPConnection('127.0.0.1', proxy.upstream.port, timeout=30)
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in ('host', 'connection')
                }
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                self._answer(answer.status, answer.read())
                upstream.close()

            def _answer(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        # serve_forever looks for shutdown() every poll_interval: at its default
        # (0.5 s) each test's stop() waited half a second.
        threading.Thread(
            target=self.server.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True
        ).start()

    def refund_creates(self) -> list[str | None]:
        """The Idempotency-Key of every refund create that reached the proxy."""
        return [
            key
            for method, path, key in self.calls
            if method == 'POST' and path.startswith('/v1/refunds')
        ]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe-Signature as Stripe writes it: t=<unix time>,v1=HMAC-SHA256 of
    "<t>.<payload>" keyed with the whole whsec_ secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f'{timestamp}.'.encode() + payload, hashlib.sha256)
    return f't={timestamp},v1={mac.hexdigest()}'


def event_body(event_type: str, data_object: dict, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            'id': event_id or f'evt_{uuid.uuid4().hex[:24]}',
            'object': 'event',
            'api_version': '2026-09-30',
            'created': int(time.time()),
            'livemode': False,
            'type': event_type,
            'data': {'object': data_object},
        },
        indent=2,
    ).encode()


def pay_with_card(stripe_client: Any, payment_intent_id: str) -> dict:
    """What a browser does with Stripe.js: a card PaymentMethod on the
    PaymentIntent, then confirm it. The succeeded PaymentIntent."""
    method = stripe_client.v1.payment_methods.create(
        params={
            'type': 'card',
            'card': {'number': '4242424242424242', 'exp_month': 12, 'exp_year': 2034, 'cvc': '123'},
        }
    )
    stripe_client.v1.payment_intents.update(payment_intent_id, params={'payment_method': method.id})
    stripe_client.v1.payment_intents.confirm(payment_intent_id)
    return stripe_client.v1.payment_intents.retrieve(payment_intent_id).to_dict()


def start_payment(client, order_id, headers=None):
    return send(client, 'POST', f'/orders/{order_id}/payment', headers=headers)


def deliver(client, body, sig=None):
    """POST a webhook body as Stripe does: no bearer token, signed."""
    return client.http.request(
        'POST',
        '/webhooks/stripe',
        headers={
            'Authorization': None,
            'Content-Type': 'application/json; charset=utf-8',
            'Stripe-Signature': signature(body) if sig is None else sig,
        },
        body=body,
    )


def paid_intent(client, localstripe, order_id):
    """The order's PaymentIntent, paid by card at localstripe."""
    intent = json_of(start_payment(client, order_id))
    return pay_with_card(localstripe.client(), intent['payment_intent_id'])


def events_of(order_id, event_type=None):
    query = Outbox.select().where(Outbox.order_id == order_id).order_by(Outbox.id)
    return [
        json.loads(row.body) for row in query if event_type is None or row.event_type == event_type
    ]


def mails(tmp_path):
    folder = tmp_path / 'mail'
    return sorted(path.read_text() for path in folder.glob('*.eml')) if folder.exists() else []


def card_paid_order(client, localstripe, **kwargs):
    """An order paid by card (through the webhook); (order, PaymentIntent id)."""
    order = create_order(client, user_email='ada@example.com', **kwargs)
    intent = paid_intent(client, localstripe, order['order_id'])
    assert deliver(client, event_body('payment_intent.succeeded', intent)).status_code == 200
    return json_of(send(client, 'GET', f'/orders/{order["order_id"]}')), intent['id']


def stripe_refunds(localstripe, intent_id):
    """The amounts of the Stripe refunds of a PaymentIntent."""
    return [
        r.amount
        for r in localstripe.client().v1.refunds.list(params={'payment_intent': intent_id}).data
    ]


def run_relay(app_module):
    """One run of the refund_relay Lambda, as its schedule starts it."""
    return app_module.refund_relay(scheduled_event(), LambdaContext(remaining_ms=3000))
