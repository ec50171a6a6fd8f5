"""One backend's in-process benchmark, in a process of its own (bench/run.py
starts one per backend, so the two never share module state).

For each operation: the service, called as Lambda calls it (an API Gateway
REST proxy event into `app.app(event, context)`), and the floor (the same
statements as bare SQL, bench/floor.py); both warmed up, then timed in
alternating blocks over a fixed number of requests. AWS is moto;
SNS_TOPIC_ARN is set, so events are published through boto3 in the request,
as in AWS. The write operations are measured again with SNS answered by a
stub at botocore's HTTP layer (boto3's own client cost stays, moto's goes):
moto costs far more per call than botocore does."""
import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
from collections import deque
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import floor as floor_module  # noqa: E402
from bench import preload as preload_module  # noqa: E402
from bench.events import REGION, invocation  # noqa: E402
from bench.snsstub import BenchFailure, SnsStub  # noqa: E402
from bench.stats import summarize  # noqa: E402

TOPIC_NAME = 'orders-bench-events'
CREATE_USERS = 100  # created orders cycle over users 1..100: full user pages
PRICES = ('29.99', '9.50', '105.00', '0.99', '12.34', '49.99', '3.10')
BLOCK = 50  # requests per side and turn when service and floor alternate
OFFSET_REQUESTS = 50  # the offset page and COUNT(*) cost milliseconds at depth


def progress(message):
    sys.stderr.write(message + '\n')
    sys.stderr.flush()


# -- database -------------------------------------------------------------
def mariadb_params(args):
    return dict(host=args.mariadb_host, port=args.mariadb_port,
                user=args.mariadb_user, password=args.mariadb_password)


def prepare_mariadb(args):
    """Drop and create the bench database (only that one), or keep it."""
    import pymysql
    conn = pymysql.connect(autocommit=True, **mariadb_params(args))
    name = args.mariadb_database
    with conn.cursor() as cur:
        cur.execute('SHOW DATABASES LIKE %s', (name,))
        exists = cur.fetchone() is not None
        if exists and args.reuse_db:
            progress(f'[mariadb] reusing database {name}')
        else:
            cur.execute(f'DROP DATABASE IF EXISTS `{name}`')
            cur.execute(f'CREATE DATABASE `{name}` CHARACTER SET utf8mb4')
    conn.close()
    auth = args.mariadb_user + (f':{args.mariadb_password}' if args.mariadb_password else '')
    return f'mysql://{auth}@{args.mariadb_host}:{args.mariadb_port}/{name}'


def connect_floor(args):
    if args.backend == 'mariadb':
        conn = floor_module.connect_mysql(database=args.mariadb_database,
                                          **mariadb_params(args))
    else:
        conn = floor_module.connect_sqlite(args.sqlite_path)
    return floor_module.Floor(args.backend, conn)


# -- the harness ----------------------------------------------------------
class Side:
    """One side of an operation (the service or the floor): builds its
    arguments, calls, and checks the answer outside the timing. Any failed
    check fails the whole run: a benchmark of errors is worthless."""

    def __init__(self, make_args, run, check):
        self.make_args, self.run, self.check = make_args, run, check
        self.latencies = []
        self.failures = []
        self.calls = 0

    def block(self, count, timed=True):
        from time import perf_counter_ns
        make_args, run, check = self.make_args, self.run, self.check
        for _ in range(count):
            call_args = make_args()
            if timed:
                started = perf_counter_ns()
                result = run(call_args)
                self.latencies.append(perf_counter_ns() - started)
            else:
                result = run(call_args)
            error = check(call_args, result)
            if error:
                self.failures.append(error)
        self.calls += count

    def summary(self):
        if self.failures:
            raise BenchFailure(f'{len(self.failures)} of {self.calls} requests failed; '
                               f'first: {self.failures[0]}')
        return summarize(self.latencies)


def measure(make_args, run, check, n, warmup):
    side = Side(make_args, run, check)
    side.block(warmup, timed=False)
    side.block(n)
    return side.summary()


def interleaved(sides, n, warmup, block=BLOCK):
    """Warm every side up, then time them in alternating blocks, so a drift
    of the machine (CPU frequency, another process, the server's caches)
    weighs on each side alike."""
    for side in sides:
        side.block(warmup, timed=False)
    done = 0
    while done < n:
        count = min(block, n - done)
        for side in sides:
            side.block(count)
        done += count
    return [side.summary() for side in sides]


class Bench:
    def __init__(self, args, app_module, floor, stub):
        self.args = args
        self.app = app_module.app
        self.floor = floor
        self.stub = stub
        self.rng = random.Random(1)
        self.frng = random.Random(2)
        self.service_created, self.floor_created = deque(), deque()
        self.service_paid, self.floor_paid = deque(), deque()
        self.preloaded = (0, -1)
        self.user_counter = 0
        self.results = []
        self.meta = {}

    # service calls --------------------------------------------------------
    def invoke(self, inv):
        return self.app(inv[0], inv[1])

    @staticmethod
    def expect(status, orders=None):
        def check(inv, response):
            if response.get('statusCode') != status:
                return (f"{inv[0]['httpMethod']} {inv[0]['path']} -> "
                        f"{response.get('statusCode')} {str(response.get('body'))[:300]}")
            if orders is not None:
                got = len(json.loads(response['body'])['orders'])
                if got != orders:
                    return f"{inv[0]['path']}: {got} orders, expected {orders}"
            return None
        return check

    def statements_of(self, run_once):
        """The SQL statements one service call issues (peewee query hooks)."""
        from chalicelib import db
        database = getattr(db.database, 'obj', None)
        hooks = getattr(database, 'query_hooks', None)
        if hooks is None:
            return None, run_once()
        seen = []

        def hook(event):
            seen.append(event.sql)
        hooks.append(hook)
        try:
            result = run_once()
        finally:
            hooks.remove(hook)
        return seen, result

    def floor_statements_of(self, run_once):
        counting = self.floor.counting()
        try:
            run_once()
        finally:
            self.floor.uncount()
        return counting.statements

    # arguments ------------------------------------------------------------
    def new_order(self, rng):
        self.user_counter += 1
        user_id = 1 + self.user_counter % CREATE_USERS
        items = [(rng.randrange(1, 100_000), rng.randrange(1, 4), rng.choice(PRICES))
                 for _ in range(3)]
        total = str(sum((Decimal(q) * Decimal(p) for _, q, p in items), Decimal('0.00')))
        return user_id, f'user{user_id}@example.com', items, total

    def create_invocation(self):
        user_id, email, items, _ = self.new_order(self.rng)
        return invocation('POST', '/orders', body={
            'user_id': user_id, 'user_email': email,
            # A float prints as its shortest decimal: 29.99 goes out as 29.99.
            'items': [{'product_id': p, 'quantity': q, 'price_at_order': float(price)}
                      for p, q, price in items]})

    def existing_id(self, rng):
        first, last = self.preloaded
        if last >= first:
            return rng.randint(first, last)
        pool = self.service_created if rng is self.rng else self.floor_created
        return pool[rng.randrange(len(pool))]

    # one operation -------------------------------------------------------
    def run_op(self, name, label, service_args, status, floor_args, floor_run,
               orders=None, n=None, warmup=None, on_created=None, info=False):
        n = n or self.args.requests
        warmup = self.args.warmup if warmup is None else warmup
        check = self.expect(status, orders)
        record = {'name': name, 'label': label, 'info': info, 'requests': n,
                  'warmup': warmup}

        def service_check(inv, response):
            error = check(inv, response)
            if error is None and on_created is not None:
                on_created(response)
            return error

        sides = []
        if service_args is not None:
            inv = service_args()
            sql, response = self.statements_of(lambda: self.invoke(inv))
            error = service_check(inv, response)
            if error:
                raise BenchFailure(f'{name}: {error}')
            record['service_sql'] = sql
            sides.append(('service', Side(service_args, self.invoke, service_check)))
        if floor_run is not None:
            call_args = floor_args()
            record['floor_sql'] = self.floor_statements_of(lambda: floor_run(*call_args))
            sides.append(('floor', Side(floor_args, lambda a: floor_run(*a),
                                        lambda a, r: None)))
        try:
            if self.args.profile == name:
                # Profiled: the service's requests in one stretch, then the floor's.
                for side_name, side in sides:
                    side.block(warmup, timed=False)
                    with profiled(self.args, name, enabled=side_name == 'service'):
                        side.block(n)
                summaries = [side.summary() for _, side in sides]
            else:
                summaries = interleaved([side for _, side in sides], n, warmup)
        except BenchFailure as exc:
            raise BenchFailure(f'{name}: {exc}') from None
        for (side_name, _), summary in zip(sides, summaries):
            record[side_name] = summary
        if service_args is not None:
            self.assert_published(name)
        self.results.append(record)
        self.report(record)
        return record

    def report(self, record):
        parts = [f'[{self.args.backend}] {record["name"]:<12}']
        for side in ('service', 'floor', 'service_stub'):
            if side in record:
                s = record[side]
                parts.append(f'{side} p50 {s["p50_ms"]:.3f} p99 {s["p99_ms"]:.3f} ms')
        if 'service' in record and 'floor' in record:
            parts.append(f'ratio {record["service"]["p50_ms"] / record["floor"]["p50_ms"]:.2f}x')
        progress('  '.join(parts))

    def assert_published(self, name):
        pending = self.floor.scalar('SELECT COUNT(*) FROM outbox WHERE published_at IS NULL')
        if pending:
            raise BenchFailure(f'{name}: {pending} outbox rows left unpublished: SNS '
                               'publishing failed in the request path, the figures '
                               'would not include it')

    # the whole run -----------------------------------------------------------
    def run_all(self):
        args, fl = self.args, self.floor
        # Not one of the operations: the framework's fixed cost per request.
        self.run_op('health', 'GET /health', lambda: invocation('GET', '/health'), 200,
                    lambda: (), fl.health, info=True)

        def created(target):
            def on_created(response):
                headers = response.get('headers') or {}
                location = headers.get('Location') or headers.get('location')
                target.append(int(location.rsplit('/', 1)[1]))
            return on_created

        def floor_create_args():
            user_id, email, items, total = self.new_order(self.frng)
            return user_id, email, items, total, self.frng.randrange(16)

        def floor_create(*a):
            self.floor_created.append(fl.create(*a))

        self.run_op('create', 'POST /orders (3 items)', self.create_invocation, 201,
                    floor_create_args, floor_create,
                    on_created=created(self.service_created))

        self.run_op('get', 'GET /orders/{id}',
                    lambda: self._get_invocation(self.existing_id(self.rng)), 200,
                    lambda: (self.existing_id(self.frng),), fl.get)

        self.run_op('list', 'GET /orders?page=1&page_size=10 (with total)',
                    lambda: invocation('GET', '/orders', query={'page': 1, 'page_size': 10}),
                    200, lambda: (1, 10), fl.list_page, orders=10)

        low = fl.scalar('SELECT MIN(order_id) FROM orders')
        high = fl.scalar('SELECT MAX(order_id) FROM orders')
        after = (low + high) // 2
        cursor = encode_cursor(after)
        self.meta['deep_after'], self.meta['deep_cursor'] = after, cursor
        self.run_op('list_deep', 'GET /orders?cursor=<middle of the table>&page_size=10',
                    lambda: invocation('GET', '/orders',
                                       query={'cursor': cursor, 'page_size': 10}),
                    200, lambda: (after, 10), fl.list_after, orders=10)

        count = fl.count_all()
        page = max(1, count // 2 // 10)
        self.run_op('list_offset', f'GET /orders?page={page:,}&page_size=10 (offset paging)',
                    lambda: invocation('GET', '/orders', query={'page': page, 'page_size': 10}),
                    200, lambda: (page, 10), fl.list_page, orders=10,
                    n=min(args.requests, OFFSET_REQUESTS), warmup=min(args.warmup, 3),
                    info=True)

        self.run_op('user', 'GET /users/{id}/orders (page 1)',
                    lambda: self._user_invocation(self.rng.randint(1, CREATE_USERS)), 200,
                    lambda: (self.frng.randint(1, CREATE_USERS),), fl.user_orders)

        def take(source, target):
            order_id = source.popleft()
            target.append(order_id)
            return order_id

        self.run_op('update', 'PUT /orders/{id} {"status": "paid"}',
                    lambda: self._update_invocation(take(self.service_created,
                                                         self.service_paid)), 200,
                    lambda: (take(self.floor_created, self.floor_paid), 'paid',
                             self.frng.randrange(16)), fl.update_status)

        self.run_op('delete', 'DELETE /orders/{id}',
                    lambda: self._delete_invocation(self.service_paid.popleft()), 204,
                    lambda: (self.floor_paid.popleft(), self.frng.randrange(16)), fl.delete)

        self.run_op('count_all', 'SELECT COUNT(*) FROM orders (total without counts)',
                    None, None, lambda: (), fl.count_all,
                    n=min(args.requests, OFFSET_REQUESTS), warmup=min(args.warmup, 3),
                    info=True)
        # Every order created above was deleted again: leave one for the
        # cold-start request (GET /orders/{id}) when nothing was preloaded.
        if self.preloaded[1] > 0:
            self.meta['existing_id'] = self.existing_id(self.rng)
        else:
            self.meta['existing_id'] = fl.create(*floor_create_args())

    def run_stubbed_writes(self, mock):
        """create, update, delete again with SNS answered by the stub, each
        alternating with its floor again, so the ratio compares like with like."""
        mock.stop()
        self.stub.on = True
        calls_before = self.stub.calls
        by_name = {r['name']: r for r in self.results}
        fl, frng = self.floor, self.frng
        created, paid = deque(), deque()
        floor_created, floor_paid = deque(), deque()

        def floor_create_args():
            user_id, email, items, total = self.new_order(frng)
            return user_id, email, items, total, frng.randrange(16)

        runs = [
            ('create', self.create_invocation, 201, self._appender(created),
             floor_create_args, lambda *a: floor_created.append(fl.create(*a))),
            ('update', lambda: self._update_invocation(self._move(created, paid)), 200, None,
             lambda: (self._move(floor_created, floor_paid), 'paid', frng.randrange(16)),
             fl.update_status),
            ('delete', lambda: self._delete_invocation(paid.popleft()), 204, None,
             lambda: (floor_paid.popleft(), frng.randrange(16)), fl.delete),
        ]
        args = self.args
        for name, make, status, on_created, floor_args, floor_run in runs:
            check = self.expect(status)

            def service_check(inv, response, check=check, on_created=on_created):
                error = check(inv, response)
                if error is None and on_created is not None:
                    on_created(response)
                return error
            sides = [Side(make, self.invoke, service_check),
                     Side(floor_args, lambda a, run=floor_run: run(*a), lambda a, r: None)]
            try:
                service, floor = interleaved(sides, args.requests, args.warmup)
            except BenchFailure as exc:
                raise BenchFailure(f'{name} (SNS stub): {exc}') from None
            by_name[name]['service_stub'], by_name[name]['floor_stub_pass'] = service, floor
            self.assert_published(f'{name} (SNS stub)')
            self.report({'name': name + '/stub', 'service_stub': service,
                         'floor': floor})
        expected = 3 * (args.requests + args.warmup)
        if self.stub.calls - calls_before != expected:
            raise BenchFailure(f'SNS stub answered {self.stub.calls - calls_before} '
                               f'publishes, expected {expected}')
        self.stub.on = False

    @staticmethod
    def _appender(target):
        def on_created(response):
            target.append(int(response['headers']['Location'].rsplit('/', 1)[1]))
        return on_created

    @staticmethod
    def _move(source, target):
        order_id = source.popleft()
        target.append(order_id)
        return order_id

    @staticmethod
    def _get_invocation(order_id):
        return invocation('GET', '/orders/{order_id}', f'/orders/{order_id}',
                          path_parameters={'order_id': str(order_id)})

    @staticmethod
    def _user_invocation(user_id):
        return invocation('GET', '/users/{user_id}/orders', f'/users/{user_id}/orders',
                          path_parameters={'user_id': str(user_id)},
                          query={'page_size': 10})

    @staticmethod
    def _update_invocation(order_id):
        return invocation('PUT', '/orders/{order_id}', f'/orders/{order_id}',
                          path_parameters={'order_id': str(order_id)},
                          body={'status': 'paid'})

    @staticmethod
    def _delete_invocation(order_id):
        return invocation('DELETE', '/orders/{order_id}', f'/orders/{order_id}',
                          path_parameters={'order_id': str(order_id)})


@contextlib.contextmanager
def profiled(args, name, enabled=True):
    """Profile the timed loop of one operation when --profile names it."""
    if args.profile != name or not enabled:
        yield
        return
    base = Path(args.profile_dir) / f'profile-{args.backend}-{name}'
    if args.profiler == 'pyinstrument':
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.0001)
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            Path(f'{base}.txt').write_text(text)
            Path(f'{base}.html').write_text(profiler.output_html())
    else:
        import cProfile
        import pstats
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            profiler.dump_stats(f'{base}.prof')
            with open(f'{base}.txt', 'w') as out:
                pstats.Stats(profiler, stream=out).sort_stats('cumulative').print_stats(60)
                pstats.Stats(profiler, stream=out).sort_stats('tottime').print_stats(40)
    progress(f'[{args.backend}] profile of {name} written to {base}.txt')


def encode_cursor(after):
    """A cursor from the service's own encoder (the format is its business)."""
    from chalicelib import paging
    return paging.encode_cursor(after, {})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--backend', choices=('sqlite', 'mariadb'), required=True)
    parser.add_argument('--orders', type=int, default=0)
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--warmup', type=int, default=200)
    parser.add_argument('--sqlite-path')
    parser.add_argument('--mariadb-host', default='127.0.0.1')
    parser.add_argument('--mariadb-port', type=int, default=3306)
    parser.add_argument('--mariadb-user', default='root')
    parser.add_argument('--mariadb-password', default='')
    parser.add_argument('--mariadb-database', default='orders_bench')
    parser.add_argument('--reuse-db', action='store_true')
    parser.add_argument('--sns', choices=('moto', 'stub'), default='moto')
    parser.add_argument('--no-stub', action='store_true')
    parser.add_argument('--profile', help="profile the service's side of this operation")
    parser.add_argument('--profiler', choices=('pyinstrument', 'cprofile'),
                        default='pyinstrument')
    parser.add_argument('--profile-dir', default=str(REPO / 'bench' / 'results'))
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)

    mail_dir = tempfile.mkdtemp(prefix='orders-bench-mail-')
    for name in ('SES_SENDER_EMAIL', 'DB_HOST', 'DB_SECRET_ARN', 'MAIL_DIR'):
        os.environ.pop(name, None)
    if args.backend == 'mariadb':
        url = prepare_mariadb(args)
    else:
        url = f'sqlite:///{args.sqlite_path}'
    os.environ.update({
        'DATABASE_URL': url, 'AUTO_MIGRATE': 'true', 'MAIL_DIR': mail_dir,
        'AWS_DEFAULT_REGION': REGION, 'AWS_REGION': REGION,
        'AWS_ACCESS_KEY_ID': 'testing', 'AWS_SECRET_ACCESS_KEY': 'testing',
        'AWS_SESSION_TOKEN': 'testing'})

    mock = None
    stub = SnsStub()
    if args.sns == 'moto':
        from moto import mock_aws
        mock = mock_aws()
        mock.start()  # starts boto3's default session afresh: install the stub after
        stub.install()
        import boto3
        topic_arn = boto3.client('sns', region_name=REGION).create_topic(
            Name=TOPIC_NAME)['TopicArn']
    else:
        stub.install()
        stub.on = True
        topic_arn = f'arn:aws:sns:{REGION}:123456789012:{TOPIC_NAME}'
    os.environ['SNS_TOPIC_ARN'] = topic_arn

    # The service logs (JSON lines) and metrics go to stdout, as in Lambda;
    # here they are formatted and written, to /dev/null.
    sys.stdout = open(os.devnull, 'w')
    import app as app_module

    floor = None
    bench = None
    try:
        bench = Bench(args, app_module, None, stub)
        bench.meta = {'database_url': url.replace(args.mariadb_password or '\0', '***'),
                      'sns_topic_arn': topic_arn}
        first = bench.invoke(invocation('GET', '/health'))  # connects, migrates
        if first.get('statusCode') != 200:
            raise BenchFailure(f'GET /health -> {first}')
        floor = connect_floor(args)
        bench.floor = floor
        existing = floor.scalar('SELECT COUNT(*) FROM orders')
        to_load = max(0, args.orders - existing) if args.reuse_db else args.orders
        if to_load:
            conn = floor.conn
            bench.meta['preload_seconds'] = preload_module.preload(
                args.backend, conn, to_load, label=f'[{args.backend}] preload')
            bench.meta['recount'] = preload_module.rebuild_derived_data(progress)
        bench.meta['orders_before'] = floor.scalar('SELECT COUNT(*) FROM orders')
        if args.orders:
            bench.preloaded = (floor.scalar('SELECT MIN(order_id) FROM orders'),
                               floor.scalar('SELECT MAX(order_id) FROM orders'))
        bench.run_all()
        if mock is not None and not args.no_stub:
            bench.run_stubbed_writes(mock)
        bench.meta['orders_after'] = floor.scalar('SELECT COUNT(*) FROM orders')
        outcome = {'backend': args.backend, 'ok': True, 'ops': bench.results,
                   'meta': bench.meta}
    except BenchFailure as exc:
        progress(f'[{args.backend}] FAILED: {exc}')
        outcome = {'backend': args.backend, 'ok': False, 'error': str(exc),
                   'ops': bench.results if bench else [], 'meta': getattr(bench, 'meta', {})}
    finally:
        if mock is not None:
            try:
                mock.stop()
            except Exception:
                pass
    Path(args.out).write_text(json.dumps(outcome, indent=1, default=str))
    return 0 if outcome['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
