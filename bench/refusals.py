"""What a hostile request costs: each one sent in process (chalice's test
client, SQLite in a temporary directory, a development issuer's customer
token), with its wall time, CPU time, the size of the answer and its
status; with --memory also the memory it allocated at its peak (tracemalloc,
which slows everything down: the times are then not comparable).

    python -m bench.refusals [--memory]

A refusal should cost milliseconds and answer a few hundred bytes, however
the request was built."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tracemalloc
from typing import Callable


def _requests() -> list[tuple[str, str, str, str]]:
    """(what, method, path, body) of each hostile request."""
    empty_items = json.dumps({'items': [{}] * 87374}, separators=(',', ':'))
    full_item = {'product_id': 101, 'quantity': 1, 'price_at_order': 1}
    compact = (',', ':')
    return [
        (f'87,374 empty items ({len(empty_items):,} B)', 'POST', '/orders', empty_items),
        ('101 valid items', 'POST', '/orders', json.dumps({'items': [full_item] * 101})),
        ('10,000 empty items (30 KB)', 'POST', '/orders',
         json.dumps({'items': [{}] * 10000}, separators=compact)),
        ('4,000 bad items (60 KB)', 'POST', '/orders',
         json.dumps({'items': [{'quantity': 0}] * 4000}, separators=compact)),
        ('100 items, 3 problems each', 'POST', '/orders',
         json.dumps({'items': [{'product_id': 0, 'quantity': 0, 'price_at_order': -1}] * 100})),
        ('3,000 unknown fields', 'POST', '/orders',
         json.dumps({f'f{number}': 0 for number in range(3000)}, separators=compact)),
        ('70 KiB body', 'POST', '/orders',
         json.dumps({'items': [full_item], 'pad': 'x' * 70 * 1024})),
        ('JSON nested 30,000 deep', 'POST', '/orders', '[' * 30000 + ']' * 30000),
        ('lone surrogate in reason', 'PUT', '/orders/{order_id}',
         '{"status": "cancelled", "reason": "oops \\ud800"}'),
        ('U+202E in reason', 'PUT', '/orders/{order_id}',
         '{"status": "cancelled", "reason": "\\u202egnp.exe"}'),
    ]


def _measure(send: Callable[[], object], memory: bool) -> tuple[float, float, int, object]:
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


def main() -> int:
    memory = '--memory' in sys.argv[1:]
    workdir = tempfile.mkdtemp(prefix='orders-refusals-')
    os.environ.update({
        'ENVIRONMENT': 'local', 'DATABASE_URL': f'sqlite:///{workdir}/orders.sqlite3',
        'MAIL_DIR': f'{workdir}/mail', 'LOG_LEVEL': 'CRITICAL',
        'POWERTOOLS_TRACE_DISABLED': 'true'})
    for name in ('AUTH_ISSUER', 'DB_HOST', 'SNS_TOPIC_ARN', 'SES_SENDER_EMAIL'):
        os.environ.pop(name, None)
    from chalice.test import Client

    from app import app
    from chalicelib.identity import dev_issuer
    issuer = dev_issuer.DevIssuer(f'{workdir}/issuer')
    dev_issuer.DEFAULT_DIR = str(issuer.directory)
    customer = {'Authorization': f'Bearer {issuer.mint(user_id=1)}',
                'Content-Type': 'application/json'}
    with Client(app, stage_name='local') as client:
        created = client.http.post('/orders', headers=customer, body=json.dumps(
            {'items': [{'product_id': 101, 'quantity': 1, 'price_at_order': 1}]}))
        order_id = json.loads(created.body)['order_id']
        print('| request | status | answer bytes | wall ms | CPU ms | peak alloc MB |')
        print('| --- | --- | --- | --- | --- | --- |')
        for what, method, path, body in _requests():
            path = path.format(order_id=order_id)
            wall, cpu, peak, response = _measure(lambda: client.http.request(
                method, path, headers=customer, body=body.encode('utf-8')), memory)
            print(f'| {what} | {response.status_code} | {len(response.body):,} | '
                  f'{wall * 1000:.1f} | {cpu * 1000:.1f} | '
                  f'{f"{peak / 2 ** 20:.1f}" if memory else "-"} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
