"""What a hostile request costs, and what it gets: each one sent in process
(chalice's test client, SQLite in a temporary directory, tokens of a
development issuer), with its status, the size of the answer, its wall time
and CPU time; with --memory also the memory it allocated at its peak
(tracemalloc, which slows everything down: the times are then not comparable).

    python -m bench.refusals [--memory]

A refusal should cost milliseconds and answer a few hundred bytes, however
the request was built; a token that is not what it claims gets a 401."""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

COMPACT = (',', ':')
BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'


def _bodies() -> list[tuple[str, str, str, str]]:
    """(what, method, path, body) of each hostile body, sent by a customer."""
    empty_items = json.dumps({'items': [{}] * 87374}, separators=COMPACT)
    full_item = {'product_id': 101, 'quantity': 1, 'price_at_order': 1}
    return [
        (f'87,374 empty items ({len(empty_items):,} B)', 'POST', '/orders', empty_items),
        ('101 valid items', 'POST', '/orders', json.dumps({'items': [full_item] * 101})),
        (
            '10,000 empty items (30 KB)',
            'POST',
            '/orders',
            json.dumps({'items': [{}] * 10000}, separators=COMPACT),
        ),
        (
            '4,000 bad items (60 KB)',
            'POST',
            '/orders',
            json.dumps({'items': [{'quantity': 0}] * 4000}, separators=COMPACT),
        ),
        (
            '100 items, 3 problems each',
            'POST',
            '/orders',
            json.dumps({'items': [{'product_id': 0, 'quantity': 0, 'price_at_order': -1}] * 100}),
        ),
        (
            '3,000 unknown fields',
            'POST',
            '/orders',
            json.dumps({f'f{number}': 0 for number in range(3000)}, separators=COMPACT),
        ),
        (
            '70 KiB body',
            'POST',
            '/orders',
            json.dumps({'items': [full_item], 'pad': 'x' * 70 * 1024}),
        ),
        ('JSON nested 30,000 deep', 'POST', '/orders', '[' * 30000 + ']' * 30000),
        (
            'lone surrogate in reason',
            'PUT',
            '/orders/{order_id}',
            '{"status": "cancelled", "reason": "oops \\ud800"}',
        ),
        (
            'U+202E in reason',
            'PUT',
            '/orders/{order_id}',
            '{"status": "cancelled", "reason": "\\u202egnp.exe"}',
        ),
    ]


def _respelled(token: str) -> str:
    """The same token with the spare bits of its signature's last character set."""
    header, payload, signature = token.split('.')
    spare = {2: 0b1111, 3: 0b11}[len(signature) % 4]
    last = BASE64URL[BASE64URL.index(signature[-1]) | spare]
    return f'{header}.{payload}.{signature[:-1]}{last}'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def _signed_text(issuer: Any, payload: str) -> str:
    """A token of the issuer whose payload is `payload` as written (1e400
    is no number json.dumps would write)."""
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    header = issuer.mint(role='staff').split('.')[0]
    signing_input = f'{header}.{_b64(payload.encode())}'
    signature = issuer._private_key.sign(signing_input.encode(), PKCS1v15(), SHA256())
    return f'{signing_input}.{_b64(signature)}'


def _tokens(issuer: Any) -> list[tuple[str, str]]:
    """(what, token) of tokens that are not what they claim."""
    customer = issuer.claims(user_id=1)
    user_access_token = {
        **customer,
        'token_use': 'access',
        'username': 'ada',
        'client_id': customer['aud'],
        'scope': 'orders/admin',
    }
    del user_access_token['aud']
    forever = json.dumps({**issuer.claims(role='staff'), 'exp': '@'}).replace('"@"', '1e400')
    return [
        ('user 1 access token with scope orders/admin', issuer.sign(user_access_token)),
        ('staff token, signature respelled (spare bits)', _respelled(issuer.mint(role='staff'))),
        ('staff token with exp 1e400', _signed_text(issuer, forever)),
    ]


def _measure(send: Callable[[], Any], memory: bool) -> tuple[float, float, int, Any]:
    if memory:
        tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    response = send()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = 0
    if memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return wall, cpu, peak, response


def _row(
    what: str, status: Any, size: Any, wall: float, cpu: float, peak: int, memory: bool
) -> str:
    return (
        f'| {what} | {status} | {size:,} | {wall * 1000:.1f} | {cpu * 1000:.1f} | '
        f'{f"{peak / 2**20:.1f}" if memory else "-"} |'
    )


def main() -> int:
    memory = '--memory' in sys.argv[1:]
    workdir = tempfile.mkdtemp(prefix='orders-refusals-')
    os.environ.update(
        {
            'ENVIRONMENT': 'local',
            'DATABASE_URL': f'sqlite:///{workdir}/orders.sqlite3',
            'MAIL_DIR': f'{workdir}/mail',
            'LOG_LEVEL': 'CRITICAL',
            'POWERTOOLS_TRACE_DISABLED': 'true',
            'POWERTOOLS_METRICS_DISABLED': 'true',
        }
    )
    for name in ('AUTH_ISSUER', 'DB_HOST', 'SNS_TOPIC_ARN', 'SES_SENDER_EMAIL'):
        os.environ.pop(name, None)
    from chalice.test import Client

    from app import app
    from chalicelib.identity import dev_issuer
    from chalicelib.storage import connection

    issuer = dev_issuer.DevIssuer(f'{workdir}/issuer')
    dev_issuer.DEFAULT_DIR = str(issuer.directory)
    json_headers = {'Content-Type': 'application/json'}
    customer = {'Authorization': f'Bearer {issuer.mint(user_id=1)}', **json_headers}
    staff = {'Authorization': f'Bearer {issuer.mint(role="staff")}', **json_headers}
    order = {'items': [{'product_id': 101, 'quantity': 1, 'price_at_order': 1}]}
    print('| request | status | answer bytes | wall ms | CPU ms | peak alloc MB |')
    print('| --- | --- | --- | --- | --- | --- |')
    with Client(app, stage_name='local') as client:
        created = client.http.post('/orders', headers=customer, body=json.dumps(order))
        order_id = json.loads(created.body)['order_id']
        others = client.http.post(
            '/orders', headers=staff, body=json.dumps({**order, 'user_id': 2})
        )
        other_id = json.loads(others.body)['order_id']
        for what, method, path, body in _bodies():
            path = path.format(order_id=order_id)
            wall, cpu, peak, response = _measure(
                lambda method=method, path=path, body=body: client.http.request(
                    method, path, headers=customer, body=body.encode('utf-8')
                ),
                memory,
            )
            print(_row(what, response.status_code, len(response.body), wall, cpu, peak, memory))
        for what, token in _tokens(issuer):
            wall, cpu, peak, response = _measure(
                lambda token=token: client.http.get(
                    f'/orders/{other_id}', headers={'Authorization': f'Bearer {token}'}
                ),
                memory,
            )
            print(
                _row(
                    f"{what}: GET another user's order",
                    response.status_code,
                    len(response.body),
                    wall,
                    cpu,
                    peak,
                    memory,
                )
            )
        _public_routes(client, connection, memory)
        _relay(client, memory)
    return 0


def _public_routes(client: Any, connection: Any, memory: bool) -> None:
    """/health five times, each from a thread of its own as chalice local
    serves it, counting the database connections opened; /docs's caching."""
    client.http.get('/health')
    database = connection.database.obj
    opened = []
    connect = database._connect
    database._connect = lambda: opened.append(1) or connect()
    statuses = []

    def five_calls() -> None:
        for _ in range(5):
            thread = threading.Thread(
                target=lambda: statuses.append(client.http.get('/health').status_code)
            )
            thread.start()
            thread.join()

    wall, cpu, peak, _ = _measure(five_calls, memory)
    database._connect = connect
    print(
        _row(
            f'/health x5, a thread each: {len(opened)} connections opened',
            '/'.join(map(str, sorted(set(statuses)))),
            0,
            wall,
            cpu,
            peak,
            memory,
        )
    )
    docs = client.http.get('/docs')
    print(
        _row(
            f'/docs Cache-Control: {docs.headers.get("Cache-Control")}',
            docs.status_code,
            len(docs.body),
            0,
            0,
            0,
            memory,
        )
    )


def _relay(client: Any, memory: bool) -> None:
    """outbox_relay through the test client (3 s left) with one event pending:
    the last order's, as if its request had given up publishing it."""
    from chalicelib.storage.models import Outbox

    last = Outbox.select().order_by(Outbox.id.desc()).get()
    Outbox.update(published_at=None, relay_after=None).where(Outbox.id == last.id).execute()
    event = {
        'version': '0',
        'account': '123456789012',
        'region': 'us-east-1',
        'detail': {},
        'detail-type': 'Scheduled Event',
        'source': 'aws.events',
        'time': '2026-11-25T12:00:00Z',
        'id': 'bench',
        'resources': [],
    }
    wall, cpu, peak, answer = _measure(
        lambda: client.lambda_.invoke('outbox_relay', event).payload, memory
    )
    print(
        _row(
            f'outbox_relay via the test client, 1 pending: {answer}',
            '-',
            0,
            wall,
            cpu,
            peak,
            memory,
        )
    )


if __name__ == '__main__':
    sys.exit(main())
