"""How long GET /users/{id}/orders/export takes for one user's 10,000 orders
of 3 items each, and how much memory it needs, on SQLite and MariaDB.

Each backend runs in a fresh process: it makes an empty database (SQLite in
a temporary directory; MariaDB `orders_bench_export`, dropped and created),
bulk-loads the orders and items with multi-row INSERTs, then calls the
Lambda handler with an API Gateway event as Lambda would: a few warm runs
are timed, then one run under tracemalloc gives the peak of Python
allocations during the export, and VmHWM the process's resident peak.

    .venv/bin/python bench/export.py                       # both backends
    .venv/bin/python bench/export.py --backend sqlite --orders 2000
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
MARIADB = dict(
    host=os.environ.get('TEST_MARIADB_HOST', '127.0.0.1'),
    port=int(os.environ.get('TEST_MARIADB_PORT', '3306')),
    user=os.environ.get('TEST_MARIADB_USER', 'root'),
    password=os.environ.get('TEST_MARIADB_PASSWORD', ''),
)
USER_ID = 1
BATCH = 1000


def memory_mib():
    values = {}
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(('VmRSS:', 'VmHWM:')):
                name, amount, _unit = line.split()
                values[name.rstrip(':')] = int(amount) / 1024
    return values


def load(orders, items_each):
    """One user's orders, newest last, one a minute up to 2026-01-01."""
    from chalicelib.storage.connection import database
    from chalicelib.storage.models import Order, OrderItem

    start = datetime(2026, 1, 1) - timedelta(minutes=orders)
    started = time.monotonic()
    with database.atomic():
        for first in range(1, orders + 1, BATCH):
            ids = range(first, min(first + BATCH, orders + 1))
            Order.insert_many(
                [
                    {
                        'order_id': order_id,
                        'user_id': USER_ID,
                        'user_email': 'ada@example.com',
                        'status': 'paid',
                        'order_total': Decimal('109.97'),
                        'created_at': start + timedelta(minutes=order_id),
                        'updated_at': start + timedelta(minutes=order_id),
                        'version': 2,
                    }
                    for order_id in ids
                ]
            ).execute()
            OrderItem.insert_many(
                [
                    {
                        'order': order_id,
                        'product_id': 100 + k,
                        'quantity': k + 1,
                        'price_at_order': Decimal('29.99'),
                    }
                    for order_id in ids
                    for k in range(items_each)
                ]
            ).execute()
    return time.monotonic() - started


def child(backend, url, orders, items_each, runs):
    """Runs in the measured process: prints one JSON line of figures."""
    scratch = tempfile.mkdtemp(prefix='export-bench-')
    from chalicelib.identity.dev_issuer import DevIssuer

    issuer = DevIssuer(scratch)
    issuer.ensure_keys()
    auth = issuer.auth_settings()
    os.environ.update(
        {
            'DATABASE_URL': url,
            'DB_SSL_CA': 'off',  # the bench's MariaDB speaks no TLS
            'AUTO_MIGRATE': 'true',
            'LOG_LEVEL': 'WARNING',
            'MAIL_DIR': os.path.join(scratch, 'mail'),
            'AUTH_ISSUER': auth.issuer,
            'AUTH_AUDIENCE': ','.join(auth.audiences),
            'AUTH_JWKS_URL': auth.jwks_url,
        }
    )
    for name in ('SNS_TOPIC_ARN', 'SES_SENDER_EMAIL', 'DB_HOST', 'DB_SECRET_ARN'):
        os.environ.pop(name, None)
    import app as app_module
    from bench.events import LambdaContext, rest_event
    from chalicelib.wiring import runtime

    runtime.database()
    load_seconds = load(orders, items_each)
    token = issuer.mint(role='staff')
    gc.collect()
    # The load's own peak is not the export's: start VmHWM again from here.
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')

    def export():
        event = rest_event(
            'GET',
            '/users/{user_id}/orders/export',
            f'/users/{USER_ID}/orders/export',
            path_parameters={'user_id': str(USER_ID)},
            headers={'Authorization': f'Bearer {token}'},
        )
        response = app_module.app(event, LambdaContext())
        assert response['statusCode'] == 200, response
        return response

    before = memory_mib()
    response = export()  # warm-up: imports, statement texts, connection
    body = response['body']
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        export()
        timings.append(time.perf_counter() - started)
    tracemalloc.start()
    export()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = memory_mib()
    print(
        json.dumps(
            {
                'backend': backend,
                'orders': orders,
                'items': orders * items_each,
                'rows': body.count('\r\n') - 1,
                'csv_bytes': len(body.encode('utf-8')),
                'lambda_response_bytes': len(json.dumps(response).encode('utf-8')),
                'load_s': round(load_seconds, 2),
                'runs': runs,
                'median_s': round(statistics.median(timings), 3),
                'min_s': round(min(timings), 3),
                'max_s': round(max(timings), 3),
                'tracemalloc_peak_mib': round(peak / 2**20, 1),
                'rss_before_mib': round(before['VmRSS'], 1),
                'vmhwm_mib': round(after['VmHWM'], 1),
            }
        )
    )


def mariadb_url(name):
    import pymysql

    conn = pymysql.connect(autocommit=True, **MARIADB)
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS `{name}`')
        cursor.execute(f'CREATE DATABASE `{name}`')
    conn.close()
    auth = MARIADB['user'] + (f':{MARIADB["password"]}' if MARIADB['password'] else '')
    return f'mysql://{auth}@{MARIADB["host"]}:{MARIADB["port"]}/{name}'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--backend', choices=('sqlite', 'mariadb', 'both'), default='both')
    parser.add_argument('--orders', type=int, default=10_000)
    parser.add_argument('--items', type=int, default=3)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--mariadb-database', default='orders_bench_export')
    parser.add_argument('--child', nargs=2, metavar=('BACKEND', 'URL'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child, args.orders, args.items, args.runs)
    backends = ['sqlite', 'mariadb'] if args.backend == 'both' else [args.backend]
    with tempfile.TemporaryDirectory(prefix='export-bench-') as scratch:
        for backend in backends:
            url = (
                f'sqlite:///{scratch}/orders.sqlite3'
                if backend == 'sqlite'
                else mariadb_url(args.mariadb_database)
            )
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    '--child',
                    backend,
                    url,
                    '--orders',
                    str(args.orders),
                    '--items',
                    str(args.items),
                    '--runs',
                    str(args.runs),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                sys.exit(f'{backend}: {result.stderr}')
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f'{backend:8} {figures["orders"]:,} orders / {figures["rows"]:,} rows, '
                f'{figures["csv_bytes"] / 2**20:.2f} MiB CSV '
                f'({figures["lambda_response_bytes"] / 2**20:.2f} MiB Lambda answer): '
                f'median {figures["median_s"]:.3f} s (min {figures["min_s"]:.3f}, '
                f'max {figures["max_s"]:.3f}, {figures["runs"]} runs); '
                f'tracemalloc peak {figures["tracemalloc_peak_mib"]} MiB; '
                f'VmHWM {figures["vmhwm_mib"]} MiB (RSS {figures["rss_before_mib"]} MiB '
                'before the first export)'
            )
            print('  ' + json.dumps(figures))


if __name__ == '__main__':
    main()
