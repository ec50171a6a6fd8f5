"""Memory: one process, as one warm Lambda copy, serves 10,000 mixed requests
(creates, reads, a page and the next by cursor, a user's orders, a status
change, a delete); its resident set (VmRSS) is read along the way. SNS is the
botocore stub, not moto: moto keeps every message it is sent, which would be
its growth, not the service's. bench/run.py runs this in a python of its own."""

import json
import sys
from collections import deque

from bench.invoke import BenchFailure, SnsStub, invocation


def resident():
    """VmRSS and VmHWM (the peak) in MiB."""
    values = {}
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(('VmRSS:', 'VmHWM:')):
                name, kib, _ = line.split()
                values[name[:-1]] = int(kib) / 1024
    return values


def main(requests):
    stub = SnsStub(on=True)
    import app

    after_import = resident()['VmRSS']
    live, cursor = deque(), [None]

    def call(status, method, resource, **kwargs):
        response = app.app(*invocation(method, resource, **kwargs))
        if response['statusCode'] != status:
            raise BenchFailure(
                f'{method} {resource} -> {response["statusCode"]} {str(response["body"])[:300]}'
            )
        return json.loads(response['body']) if response['body'] else None

    def create():
        live.append(
            call(
                201,
                'POST',
                '/orders',
                body={
                    'user_id': 1 + len(live) % 100,
                    'user_email': 'mem@example.com',
                    'items': [
                        {'product_id': 7, 'quantity': 2, 'price_at_order': 29.99},
                        {'product_id': 8, 'quantity': 1, 'price_at_order': 0.1},
                        {'product_id': 9, 'quantity': 3, 'price_at_order': 105.5},
                    ],
                },
            )['order_id']
        )

    def first_page():
        cursor[0] = call(200, 'GET', '/orders', query={'page': 1, 'page_size': 10})['next_cursor']

    mix = [
        create,
        lambda: call(200, 'GET', '/orders/{order_id}', order_id=live[-1]),
        first_page,
        lambda: call(
            200,
            'GET',
            '/orders',
            query={'page_size': 10, 'cursor': cursor[0]} if cursor[0] else {'page_size': 10},
        ),
        lambda: call(
            200,
            'GET',
            '/users/{user_id}/orders',
            query={'page_size': 10},
            user_id=1 + len(live) % 100,
        ),
        lambda: call(200, 'PUT', '/orders/{order_id}', body={'status': 'paid'}, order_id=live[-1]),
        lambda: call(200, 'GET', '/orders', query={'status': 'paid', 'page_size': 10}),
        lambda: call(200, 'GET', '/health'),
        create,
        lambda: call(204, 'DELETE', '/orders/{order_id}', order_id=live.popleft()),
    ]
    rss = {}
    for done in range(1, requests + 1):
        mix[(done - 1) % len(mix)]()
        if done in (1, requests // 2, requests):
            rss[done] = resident()
    writes = sum(1 for k in range(requests) if k % len(mix) in (0, 5, 8, 9))
    if stub.calls != writes:
        raise BenchFailure(f'{stub.calls} SNS publishes for {writes} writes')
    return {
        'after_import': after_import,
        'first': rss[1]['VmRSS'],
        'half': rss[requests // 2]['VmRSS'],
        'last': rss[requests]['VmRSS'],
        'peak': rss[requests]['VmHWM'],
    }


if __name__ == '__main__':
    options, out = json.loads(sys.argv[1]), sys.argv[2]
    with open(out, 'w') as handle:
        json.dump(main(**options), handle)
