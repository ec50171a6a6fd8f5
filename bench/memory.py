"""Memory: one process (as one warm Lambda copy) serves REQUESTS mixed
requests; its resident set (VmRSS in /proc/self/status) is sampled along the
way. SNS is the botocore-level stub (bench/snsstub.py), not moto: moto keeps
every published message in memory, which would be its growth, not the
service's.

Run by bench/run.py with the service's environment set:
    python -m bench.memory --requests 10000 --out result.json"""
import argparse
import json
import os
import sys
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.events import invocation  # noqa: E402
from bench.snsstub import BenchFailure, SnsStub  # noqa: E402


def memory_status():
    values = {}
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(('VmRSS:', 'VmHWM:')):
                name, amount, _unit = line.split()
                values[name.rstrip(':')] = int(amount) / 1024  # MiB
    return values


def mixed_requests(handler, count, sample_every):
    """A repeating mix of ten requests: two creates, reads of every kind, a
    status change and a delete (of the oldest order it created), so the
    table grows by one order per ten requests."""
    live = deque()
    samples = []
    state = {'cursor': None}

    def call(status, method, resource, path=None, **kwargs):
        event, context = invocation(method, resource, path, **kwargs)
        response = handler(event, context)
        if response.get('statusCode') != status:
            raise BenchFailure(f'{method} {path or resource} -> {response.get("statusCode")} '
                               f'{str(response.get("body"))[:300]}')
        return response

    def create():
        body = {'user_id': 1 + len(live) % 100, 'user_email': 'mem@example.com',
                'items': [{'product_id': 7, 'quantity': 2, 'price_at_order': 29.99},
                          {'product_id': 8, 'quantity': 1, 'price_at_order': 0.1},
                          {'product_id': 9, 'quantity': 3, 'price_at_order': 105.5}]}
        response = call(201, 'POST', '/orders', body=body)
        live.append(json.loads(response['body'])['order_id'])

    def order(method, status, **kwargs):
        order_id = live[-1]
        return call(status, method, '/orders/{order_id}', f'/orders/{order_id}',
                    path_parameters={'order_id': str(order_id)}, **kwargs)

    def first_page():
        response = call(200, 'GET', '/orders', query={'page': 1, 'page_size': 10})
        state['cursor'] = json.loads(response['body'])['next_cursor']

    def next_page():
        query = {'page_size': 10}
        if state['cursor']:
            query['cursor'] = state['cursor']
        call(200, 'GET', '/orders', query=query)

    def user_page():
        user_id = 1 + len(live) % 100
        call(200, 'GET', '/users/{user_id}/orders', f'/users/{user_id}/orders',
             path_parameters={'user_id': str(user_id)}, query={'page_size': 10})

    def delete_oldest():
        order_id = live.popleft()
        call(204, 'DELETE', '/orders/{order_id}', f'/orders/{order_id}',
             path_parameters={'order_id': str(order_id)})

    mix = [
        create,
        lambda: order('GET', 200),
        first_page,
        next_page,
        user_page,
        lambda: order('PUT', 200, body={'status': 'paid'}),
        lambda: call(200, 'GET', '/orders', query={'status': 'paid', 'page_size': 10}),
        lambda: call(200, 'GET', '/health'),
        create,
        delete_oldest,
    ]
    for done in range(1, count + 1):
        mix[(done - 1) % len(mix)]()
        if done % sample_every == 0 or done == 1:
            samples.append({'requests': done, **memory_status()})
    return samples, list(live)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--requests', type=int, default=10_000)
    parser.add_argument('--sample-every', type=int, default=500)
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)

    stub = SnsStub()
    stub.install()
    stub.on = True
    before_import = memory_status()
    sys.stdout = open(os.devnull, 'w')  # the service's log lines, as in Lambda
    import app
    after_import = memory_status()
    samples, live = mixed_requests(app.app, args.requests, args.sample_every)
    writes = sum(1 for k in range(args.requests) if k % 10 in (0, 5, 8, 9))
    result = {'before_import': before_import, 'after_import': after_import,
              'samples': samples, 'publishes': stub.calls, 'writes': writes,
              'orders_left': len(live)}
    Path(args.out).write_text(json.dumps(result))
    if stub.calls != writes:
        raise BenchFailure(f'{stub.calls} SNS publishes for {writes} writes')
    return 0


if __name__ == '__main__':
    sys.exit(main())
