"""The test-process side of the multi-process tests: starting workers and
collecting what they saw, a TCP proxy to cut the network, and plain SQL to
check what the database holds (independent of the app's own code)."""

import collections
import functools
import json
import multiprocessing
import os
import queue as queue_module
import select
import socket
import tempfile
import threading
import time
import uuid

import pymysql

from tests.support import MARIADB, REGION, mariadb_url

# 'spawn': every worker is a fresh interpreter that imports the app itself,
# like a Lambda copy; nothing is inherited from the test process's state.
CONTEXT = multiprocessing.get_context('spawn')


class Workers:
    """Start worker processes running tests.concurrency.workers.TASKS[task];
    `results()` waits for all of them and fails with a worker's traceback."""

    def __init__(self, task, env, params_list, log_dir):
        from tests.concurrency import workers

        self.queue = CONTEXT.Queue()
        self.log_paths = [
            os.path.join(str(log_dir), f'{task}-{i}.log') for i in range(len(params_list))
        ]
        self.processes = [
            CONTEXT.Process(
                target=workers.main,
                daemon=True,
                args=(task, env, self.log_paths[i], i, params, self.queue),
            )
            for i, params in enumerate(params_list)
        ]
        for process in self.processes:
            process.start()

    def results(self, timeout=60):
        deadline = time.monotonic() + timeout
        outcomes, failures = {}, []
        while len(outcomes) + len(failures) < len(self.processes):
            try:
                index, ok, outcome = self.queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue_module.Empty:
                if time.monotonic() > deadline:
                    self.kill()
                    raise AssertionError(f'workers did not finish within {timeout} s') from None
                dead = [p.exitcode for p in self.processes if p.exitcode not in (None, 0)]
                if dead:
                    self.kill()
                    raise AssertionError(f'a worker died without an answer: exit {dead}') from None
                continue
            if ok:
                outcomes[index] = outcome
            else:
                failures.append(f'worker {index}:\n{outcome}')
        for process in self.processes:
            process.join(10)
        if failures:
            raise AssertionError('\n'.join(failures))
        return [outcomes[i] for i in range(len(self.processes))]

    def kill(self):
        for process in self.processes:
            if process.is_alive():
                process.kill()

    def logged_errors(self):
        """ERROR lines the workers logged (evidence for a report)."""
        lines = []
        for path in self.log_paths:
            if os.path.exists(path):
                with open(path) as handle:
                    lines += [line for line in handle if '"level": "ERROR"' in line]
        return lines


def run_workers(task, env, params_list, log_dir, timeout=60):
    workers = Workers(task, env, params_list, log_dir)
    try:
        return workers.results(timeout)
    finally:
        workers.kill()


def one_worker(env, requests, log_dir):
    """Send requests from one copy, one after the other (setting the scene);
    their answers."""
    [answers] = run_workers(
        'requests_at_once', env, [dict(requests=requests, barrier=CONTEXT.Barrier(1))], log_dir
    )
    return answers


def at_once(env, requests, processes, log_dir):
    """The same requests from `processes` copies released together by a
    barrier; every copy's answers, in one list."""
    barrier = CONTEXT.Barrier(processes)
    outcomes = run_workers(
        'requests_at_once',
        env,
        [dict(requests=requests, barrier=barrier) for _ in range(processes)],
        log_dir,
    )
    return [answer for outcome in outcomes for answer in outcome]


class MotoServer:
    """moto's ThreadedMotoServer in a process of its own (moto signs every
    message it fans out to SQS: that work must not compete with the test),
    with its queues' messages spooled to files (see workers.serve_moto)."""

    def __init__(self, spool_dir):
        from tests.concurrency import workers

        self.spool_dir = str(spool_dir)
        parent, child = CONTEXT.Pipe()
        self.process = CONTEXT.Process(
            target=workers.serve_moto, daemon=True, args=(child, self.spool_dir)
        )
        self.process.start()
        if not parent.poll(60):
            self.process.kill()
            raise RuntimeError('moto server did not start')
        self.port = parent.recv()

    def stop(self):
        self.process.terminate()
        self.process.join(10)


class TcpProxy:
    """A TCP forwarder on 127.0.0.1:<port> in threads of the test process.

    close(): stop listening (connections are refused) and
      - kill='all': cut every live connection at once (a server restart), or
      - kill='next-request': cut each live connection when its client next
        sends, dropping those bytes, so a request that already reached the
        upstream still gets its answer (no answer is ever lost in flight).
      - kill='blackhole': keep listening, but forward nothing either way and
        park new connections (a network partition: nothing is refused, nothing
        answers, only timeouts end a wait).
    open(): listen again on the same port (after a blackhole: cut what it held).
    delay: seconds to hold back the first answer bytes after each request
    (a slow upstream)."""

    def __init__(self, upstream_port, upstream_host='127.0.0.1', delay=0.0):
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.port = None
        self._listener = None
        self._lock = threading.Lock()
        self._pairs = set()
        self._doomed = set()
        self._parked = []
        self.blackhole = False
        self.connections = 0
        self.parked_connections = 0  # accepted during a blackhole
        self.open()

    def open(self):
        if self.blackhole:
            self.blackhole = False
            with self._lock:
                pairs, self._parked = list(self._pairs), []
            for pair in pairs:
                self._cut(pair)
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(('127.0.0.1', self.port or 0))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self, kill='all'):
        if kill == 'blackhole':
            self.blackhole = True
            return
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone may not.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        with self._lock:
            pairs = list(self._pairs)
            if kill != 'all':
                self._doomed.update(pairs)
                return
        for pair in pairs:
            self._cut(pair)

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._listener is not listener:
                client.close()
                return
            if self.blackhole:
                with self._lock:
                    self._parked.append((client,))
                    self._pairs.add(self._parked[-1])
                    self.parked_connections += 1
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
                self.connections += 1
            if self._listener is not listener:
                # close() ran while this one was being accepted, and may have
                # missed it: nothing gets through a closed proxy.
                self._cut(pair)
                return
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair):
        client, server = pair
        awaiting_answer = False
        try:
            while True:
                readable, _, _ = select.select([client, server], [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if self.blackhole:
                        continue
                    if sock is client:
                        if pair in self._doomed:
                            return
                        awaiting_answer = True
                        server.sendall(data)
                    else:
                        if awaiting_answer and self.delay:
                            time.sleep(self.delay)
                        awaiting_answer = False
                        client.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            self._cut(pair)

    def _cut(self, pair):
        with self._lock:
            self._pairs.discard(pair)
            self._doomed.discard(pair)
        for sock in pair:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def stop(self):
        self.close(kill='all')


def wait_until(condition, what, timeout=60):
    """Poll until condition() holds; fail saying `what` did not happen. The
    timeout only ends a wait for something that never comes: no test passes
    or fails by how fast the machine is."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'{what}: not within {timeout} s')
        time.sleep(0.01)


# -- the database, read with plain SQL ---------------------------------------


def query(database, sql, args=None):
    conn = pymysql.connect(database=database, autocommit=True, **MARIADB)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()
    finally:
        conn.close()


def unlocked(database, sql, args=None):
    """The rows of a SELECT that no other transaction holds locked right now
    (FOR UPDATE SKIP LOCKED, let go of at once)."""
    conn = pymysql.connect(database=database, autocommit=False, **MARIADB)
    try:
        with conn.cursor() as cursor:
            cursor.execute('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
            cursor.execute(sql + ' FOR UPDATE SKIP LOCKED', args)
            return cursor.fetchall()
    finally:
        conn.rollback()
        conn.close()


def counts_match_orders(database):
    """The per-status counters agree with the orders table."""
    counted = {
        status: int(n)
        for status, n in query(database, 'SELECT status, SUM(n) FROM order_counts GROUP BY status')
        if n
    }
    actual = {
        status: n
        for status, n in query(database, 'SELECT status, COUNT(*) FROM orders GROUP BY status')
    }
    return counted == actual, counted, actual


# -- reporting ---------------------------------------------------------------


def busy_lines(tmp_path, worker):
    """The lines in which the workers' logs met a busy database (a deadlock or
    a lock wait retried to its end): a race that locks in one fixed order has none."""
    return [
        line
        for path in tmp_path.glob(f'{worker}-*.log')
        for line in path.read_text().splitlines()
        if 'Database busy' in line
    ]


def summarize(title, answers, **facts):
    """Print what a scenario sent and saw (pytest -s shows it)."""
    statuses = collections.Counter(answer['status'] for answer in answers)
    slowest = max((answer['seconds'] for answer in answers), default=0.0)
    line = {
        'scenario': title,
        'requests': len(answers),
        'by_status': dict(sorted(statuses.items())),
        'slowest_s': round(slowest, 3),
        **facts,
    }
    print('\nSCENARIO ' + json.dumps(line))
    return line


@functools.lru_cache(maxsize=1)
def _issuer():
    """The token issuer every worker of the run trusts; workers send a staff
    token of it (TEST_BEARER_TOKEN)."""
    from chalicelib.identity.dev_issuer import DevIssuer

    issuer = DevIssuer(tempfile.mkdtemp(prefix='orders-issuer-'))
    issuer.ensure_keys()
    return issuer


def worker_env(database_name, tmp_path, port=None, **extra):
    """The environment of a Lambda copy; `port` points it at a proxy."""
    url = mariadb_url(database_name)
    if port is not None:
        url = url.replace(f':{MARIADB["port"]}/', f':{port}/')
    auth = _issuer().auth_settings()
    env = {
        'DATABASE_URL': url,
        'DB_SSL_CA': 'off',  # the test server speaks no TLS
        'AUTO_MIGRATE': 'false',
        'LOG_LEVEL': 'WARNING',
        'MAIL_DIR': str(tmp_path / 'mail'),
        'AWS_DEFAULT_REGION': REGION,
        'AWS_ACCESS_KEY_ID': 'testing',
        'AWS_SECRET_ACCESS_KEY': 'testing',
        'AUTH_ISSUER': auth.issuer,
        'AUTH_AUDIENCE': ','.join(auth.audiences),
        'AUTH_JWKS_URL': auth.jwks_url,
        'TEST_BEARER_TOKEN': _issuer().mint(role='staff'),
    }
    env.update(extra)
    return env


def insert_pending_events(database, count, created_at, first_order_id=1):
    """Outbox rows as a change's transaction writes them, not yet published
    (what a long SNS outage leaves behind)."""
    rows = []
    for n in range(count):
        event_id = str(uuid.uuid4())
        order_id = first_order_id + n
        body = {
            'event_id': event_id,
            'event_type': 'order_created',
            'order_id': order_id,
            'user_id': 1,
            'user_email': None,
            'status': 'pending',
            'order_total': 109.97,
            'timestamp': created_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ'),
        }
        rows.append(
            (
                event_id,
                'order_created',
                order_id,
                'Order Created',
                json.dumps(body, separators=(',', ':')),
                created_at,
            )
        )
    conn = pymysql.connect(database=database, autocommit=False, **MARIADB)
    try:
        with conn.cursor() as cursor:
            cursor.executemany(
                'INSERT INTO outbox (event_id, event_type, order_id, subject, body, '
                'created_at) VALUES (%s, %s, %s, %s, %s, %s)',
                rows,
            )
        conn.commit()
    finally:
        conn.close()
    return [row[0] for row in rows]
