"""Orders created at once by several Lambda copies on MariaDB: what a product
row that every order meets costs.

1, 2, 4 and 8 processes (each a fresh python importing app, as a Lambda
copy) create orders as fast as they are answered, each order one line of a
tracked product priced by the catalog: once all on one hot product (a flash
sale: every reservation waits for the one row lock), once spread over many
products. SNS is answered at botocore's HTTP layer (bench/invoke.SnsStub).
Figures: orders per second over all the copies (from the first start to the
last answer), and p50/p99 of one request. bench/run.py runs it with
--contention; it needs MariaDB (SQLite takes one writer at a time anyway)."""

import json
import math
import multiprocessing
import os
import random
import sys
import time

CONTEXT = multiprocessing.get_context('spawn')
FIRST_PRODUCT = 300_001
SPREAD = 1_000  # products of the spread run
PROCESSES = (1, 2, 4, 8)


def _copy(env, mode, requests, barrier, results):
    """One Lambda copy: warm up, wait for the others, create `requests` orders."""
    os.environ.update(env)
    # The service's log lines, as Lambda's stdout; open for the process's life.
    sys.stdout = open(os.devnull, 'w')  # noqa: SIM115
    from bench.invoke import SnsStub, invocation

    SnsStub(on=True)
    import app

    rng = random.Random(os.getpid())

    def create():
        product = FIRST_PRODUCT if mode == 'hot' else FIRST_PRODUCT + rng.randrange(SPREAD)
        started = time.perf_counter()
        answer = app.app(
            *invocation(
                'POST',
                '/orders',
                body={
                    'user_id': 1 + rng.randrange(100),
                    'items': [{'product_id': product, 'quantity': 1}],
                },
            )
        )
        return time.perf_counter() - started, answer['statusCode']

    for _ in range(20):
        create()
    barrier.wait(120)
    began = time.time()
    timed = [create() for _ in range(requests)]
    results.put(
        {
            'began': began,
            'ended': time.time(),
            'seconds': [s for s, _ in timed],
            'statuses': [status for _, status in timed],
        }
    )


def stock(url):
    """The hot product and the spread ones, tracked, with stock that lasts."""
    import pymysql

    from chalicelib.platform.config import parse_database_url

    db = parse_database_url(url)
    conn = pymysql.connect(
        host=db.host,
        port=db.port,
        user=db.user,
        password=db.password,
        database=db.name,
        autocommit=True,
    )
    with conn.cursor() as cursor:
        cursor.execute('DELETE FROM products WHERE product_id >= %s', (FIRST_PRODUCT,))
        cursor.executemany(
            'INSERT INTO products (product_id, sku, name, unit_price, currency, active, '
            "on_hand, reserved, version, updated_at) VALUES (%s, %s, %s, '9.99', 'USD', 1, "
            "1000000000, 0, 1, '2030-01-01 00:00:00')",
            [
                (product_id, f'C-{product_id}', f'Contention {product_id}')
                for product_id in range(FIRST_PRODUCT, FIRST_PRODUCT + SPREAD)
            ],
        )
    conn.close()


def run(env, mode, processes, requests):
    barrier = CONTEXT.Barrier(processes)
    results = CONTEXT.Queue()
    copies = [
        CONTEXT.Process(target=_copy, args=(env, mode, requests, barrier, results), daemon=True)
        for _ in range(processes)
    ]
    for copy in copies:
        copy.start()
    outcomes = [results.get(timeout=600) for _ in copies]
    for copy in copies:
        copy.join(30)
    seconds = sorted(s for outcome in outcomes for s in outcome['seconds'])
    statuses = [status for outcome in outcomes for status in outcome['statuses']]
    wall = max(o['ended'] for o in outcomes) - min(o['began'] for o in outcomes)

    def at(q):
        return seconds[max(1, math.ceil(q * len(seconds))) - 1] * 1000

    return {
        'mode': mode,
        'processes': processes,
        'orders': len(statuses),
        'created': statuses.count(201),
        'other': sorted({status for status in statuses if status != 201}),
        'orders_per_s': statuses.count(201) / wall,
        'p50': at(0.5),
        'p99': at(0.99),
    }


def main(env, url, requests):
    stock(url)
    return [
        run(env, mode, processes, requests) for mode in ('hot', 'spread') for processes in PROCESSES
    ]


if __name__ == '__main__':
    options, out = json.loads(sys.argv[1]), sys.argv[2]
    with open(out, 'w') as handle:
        json.dump(main(**options), handle)
