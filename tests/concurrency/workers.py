"""What runs inside a worker process: one warm Lambda copy of the service.

A worker sets its environment, then imports the app (settings are read from
the environment on first use), and calls it the way Lambda does: an API
Gateway proxy event and a context in, a proxy response out. Importing this
module imports nothing of the service (the test process imports it too), and
every entry point is a module-level function, so 'spawn' can find it.

Times a worker reports ('started', 'ended') are time.monotonic(): one clock
for every process of the machine (CLOCK_MONOTONIC), which no wall-clock
change (NTP, a test moving the date) ever moves.
"""

import json
import os
import random
import re
import sys
import time
import traceback
import uuid
from types import SimpleNamespace

from tests.support import scheduled_event

# Variables a worker must not inherit from the test process's environment.
_INHERITED = (
    'DATABASE_URL',
    'DB_HOST',
    'DB_SECRET_ARN',
    'SNS_TOPIC_ARN',
    'SES_SENDER_EMAIL',
    'AWS_ENDPOINT_URL',
    'AUTO_MIGRATE',
    'MAIL_DIR',
    'STRIPE_API_KEY',
    'STRIPE_SECRET_ARN',
    'STRIPE_WEBHOOK_SECRET',
    'STRIPE_API_BASE',
    'STRIPE_NAMESPACE',
)
BARRIER_TIMEOUT = 60

# What this process's service did on the wire, counted by the probes that
# boot() installs; Lambda.request reports the part each request did.
PROBE = {
    'db_connects': 0,
    'db_timeouts': 0,
    'db_timeout_limits': [],
    'sns_calls': 0,
    'sns_failed_calls': 0,
    'sns_attempts': 0,
    'sns_timeouts': 0,
}


def _timed_out(exc):
    """Whether `exc` (or what it was raised from) is a socket timeout."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, TimeoutError):
            return True
        exc = getattr(exc, 'original_exception', None) or exc.__cause__ or exc.__context__
    return False


def _install_db_probe():
    """Count the MariaDB connection attempts and the socket waits that ended
    in a timeout (with the timeout they waited out), at the driver."""
    from pymysql.connections import Connection

    real_connect, real_read, real_write = (
        Connection.connect,
        Connection._read_bytes,
        Connection._write_bytes,
    )

    def note(exc, limit):
        if _timed_out(exc):
            PROBE['db_timeouts'] += 1
            PROBE['db_timeout_limits'].append(limit)

    def connect(self, sock=None):
        PROBE['db_connects'] += 1
        try:
            return real_connect(self, sock)
        except BaseException as exc:
            note(exc, self.connect_timeout)
            raise

    def wrap(real):
        def io(self, data):
            limit = self._sock.gettimeout() if self._sock is not None else None
            try:
                return real(self, data)
            except BaseException as exc:
                note(exc, limit)
                raise

        return io

    Connection.connect = connect
    Connection._read_bytes = wrap(real_read)
    Connection._write_bytes = wrap(real_write)


def _install_sns_probe():
    """Count SNS API calls, the failed ones, HTTP attempts and timeouts: on
    boto3's default session, so every client the service makes has them."""
    import boto3
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION.events

    def count(name):
        def handler(**kwargs):
            PROBE[name] += 1

        return handler

    def answered(http_response=None, **kwargs):
        if http_response is not None and http_response.status_code >= 300:
            PROBE['sns_failed_calls'] += 1

    def attempt_failed(caught_exception=None, **kwargs):
        if isinstance(caught_exception, (ConnectTimeoutError, ReadTimeoutError)) or (
            caught_exception is not None and _timed_out(caught_exception)
        ):
            PROBE['sns_timeouts'] += 1

    events.register('before-call.sns', count('sns_calls'))
    events.register('after-call-error.sns', count('sns_failed_calls'))
    events.register('after-call.sns', answered)
    events.register('before-send.sns', count('sns_attempts'))
    events.register('needs-retry.sns', attempt_failed)


def _probed():
    return {
        name: (list(value) if isinstance(value, list) else value) for name, value in PROBE.items()
    }


def _breaker_open():
    """Whether this copy's breaker would keep a request from SNS right now
    (None: it publishes in process, with no breaker)."""
    from chalicelib.events.breaker import CLOSED
    from chalicelib.wiring import runtime

    publisher = runtime.publisher()
    if not hasattr(publisher, 'topic_arn'):
        return None
    breaker = publisher.breaker
    return breaker.state != CLOSED and breaker.monotonic() < breaker.probe_at


def boot(env, log_path=None):
    """Configure this process as a Lambda copy and return its `Lambda`."""
    for name in _INHERITED:
        os.environ.pop(name, None)
    os.environ.update(env)
    if log_path:
        # The service logs JSON lines to stdout: keep them, as evidence.
        sys.stdout = sys.stderr = open(log_path, 'a', buffering=1)  # noqa: SIM115 - for the process's life
    from chalicelib.wiring import runtime

    runtime.reset()
    _install_db_probe()
    _install_sns_probe()
    import app as app_module

    return Lambda(app_module.app)


class Lambda:
    """Calls the Chalice app with API Gateway (REST, proxy) events."""

    def __init__(self, app):
        self.app = app
        self._routes = [
            (re.compile('^' + re.sub(r'\{(\w+)\}', r'(?P<\1>[^/]+)', path) + '$'), path)
            for path in app.routes
        ]

    def _resource(self, path):
        for pattern, resource in self._routes:
            match = pattern.match(path)
            if match:
                return resource, match.groupdict() or None
        raise ValueError(f'no route for {path}')

    def request(self, method, path, body=None, headers=None, query=None):
        """Return a compact record of the answer: status, Code, timings, body,
        and what the request did on the wire (see PROBE)."""
        resource, path_params = self._resource(path)
        headers = {
            'Content-Type': 'application/json',
            'Authorization': f'Bearer {os.environ["TEST_BEARER_TOKEN"]}',
            **(headers or {}),
        }
        payload = json.dumps(body) if body is not None and not isinstance(body, str) else body
        event = {
            'resource': resource,
            'path': path,
            'httpMethod': method,
            'headers': headers,
            'multiValueHeaders': {name: [value] for name, value in headers.items()},
            'queryStringParameters': query or None,
            'multiValueQueryStringParameters': {name: [value] for name, value in query.items()}
            if query
            else None,
            'pathParameters': path_params,
            'stageVariables': None,
            'requestContext': {
                'resourcePath': resource,
                'httpMethod': method,
                'path': path,
                'stage': 'api',
                'requestId': str(uuid.uuid4()),
                'identity': {'sourceIp': '127.0.0.1'},
            },
            'body': payload,
            'isBase64Encoded': False,
        }
        context = SimpleNamespace(
            aws_request_id=str(uuid.uuid4()),
            function_name='orders-api',
            memory_limit_in_mb=512,
            get_remaining_time_in_millis=lambda: 30000,
            invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:orders-api',
        )
        breaker_open = _breaker_open()
        before = _probed()
        started = time.monotonic()
        response = self.app(event, context)
        ended = time.monotonic()
        after = _probed()
        did = {
            name: after[name][len(before[name]) :]
            if isinstance(after[name], list)
            else after[name] - before[name]
            for name in PROBE
        }
        text = response.get('body') or ''
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = text
        return {
            'method': method,
            'path': path,
            'status': response['statusCode'],
            'body': answer,
            'headers': response.get('headers') or {},
            'started': started,
            'ended': ended,
            'seconds': ended - started,
            'breaker_open': breaker_open,
            'breaker_open_after': _breaker_open(),
            **did,
        }


def main(task, env, log_path, index, params, results):
    """Process entry point: boot, run TASKS[task], put (index, ok, outcome).
    params may carry a 'task' and an 'env' of their own (one copy unlike the
    others: the relay Lambda beside the API's)."""
    try:
        params = dict(params)
        task = params.pop('task', task)
        lam = boot({**env, **params.pop('env', {})}, log_path)
        outcome = TASKS[task](lam, index, **params)
        results.put((index, True, outcome))
    except BaseException:
        for value in params.values():
            if hasattr(value, 'abort'):  # a Barrier: don't leave the others waiting
                value.abort()
        results.put((index, False, traceback.format_exc()))


def _compact(answer, **extra):
    """What the test needs of an answer (the queue carries thousands)."""
    body = answer['body'] if isinstance(answer['body'], dict) else {}
    record = {
        'status': answer['status'],
        'seconds': answer['seconds'],
        'started': answer['started'],
        'ended': answer['ended'],
        'code': body.get('Code'),
        'message': body.get('Message'),
        'order_id': body.get('order_id'),
        'version': body.get('version'),
        'order_status': body.get('status'),
        'replayed': answer['headers'].get('Idempotent-Replayed'),
        'retry_after': answer['headers'].get('Retry-After'),
        'raw': None if body else answer['body'],
        'breaker_open': answer['breaker_open'],
        'breaker_open_after': answer['breaker_open_after'],
        **{name: answer[name] for name in PROBE},
    }
    record.update(extra)
    return record


def order_body(user_id, email=None):
    body = {
        'user_id': user_id,
        'items': [
            {'product_id': 101, 'quantity': 2, 'price_at_order': 29.99},
            {'product_id': 102, 'quantity': 1, 'price_at_order': 49.99},
        ],
    }
    if email:
        body['user_email'] = email
    return body


# -- tasks -----------------------------------------------------------------


def race_status_changes(lam, index, user_id, orders_each, rounds, barrier, seed):
    """Create this worker's share of the orders; then, order by order and in
    step with the other workers (barrier), read the version and PUT a status
    with If-Match: mostly an allowed move (each worker a different one), some
    without If-Match, some no-ops, some forbidden moves."""
    from chalicelib.orders.lifecycle import STATUSES, TRANSITIONS

    rng = random.Random(seed * 1000 + index)
    created = [
        _compact(lam.request('POST', '/orders', order_body(user_id)), kind='create')
        for _ in range(orders_each)
    ]
    barrier.wait(BARRIER_TIMEOUT)
    order_ids = []
    query = {'page_size': '100'}
    while True:
        page = lam.request('GET', f'/users/{user_id}/orders', query=query)['body']
        order_ids += [order['order_id'] for order in page['orders']]
        if not page['next_cursor']:
            break
        query = {'page_size': '100', 'cursor': page['next_cursor']}
    answers = []
    for order_id in sorted(order_ids):
        for round_ in range(rounds):
            barrier.wait(BARRIER_TIMEOUT)
            seen = lam.request('GET', f'/orders/{order_id}')
            version, status = seen['body']['version'], seen['body']['status']
            allowed = sorted(TRANSITIONS[status])
            forbidden = [s for s in STATUSES if s != status and s not in allowed]
            draw = rng.random()
            headers = {'If-Match': f'"{version}"'}
            if allowed and draw < 0.65:
                target, intent = allowed[(index + round_) % len(allowed)], 'move'
            elif allowed and draw < 0.8:
                # No If-Match: the row lock alone must keep the lifecycle.
                target, intent, headers = rng.choice(allowed), 'blind', {}
            elif draw < 0.9:
                target, intent = status, 'noop'
            else:
                target, intent = rng.choice(forbidden), 'forbidden'
            answer = lam.request('PUT', f'/orders/{order_id}', {'status': target}, headers)
            answers.append(
                _compact(
                    answer,
                    kind='put',
                    id=order_id,
                    if_match=version if headers else None,
                    seen=status,
                    target=target,
                    intent=intent,
                    get_status=seen['status'],
                )
            )
    return {'created': created, 'answers': answers, 'order_ids': sorted(order_ids)}


def post_same_key(lam, index, requests, barrier, retry=False):
    """For each (key, body) (or {worker index: body}): wait for every worker,
    then POST it at once. With `retry`, POST each again once all is done."""
    answers = []
    for key, body in requests:
        if isinstance(body, dict) and 'user_id' not in body:
            body = body[index]
        barrier.wait(BARRIER_TIMEOUT)
        answer = lam.request('POST', '/orders', body, {'Idempotency-Key': key})
        answers.append(_compact(answer, key=key, full=answer['body'], phase='race'))
    if retry:
        barrier.wait(BARRIER_TIMEOUT)
        for key, body in requests:
            answer = lam.request('POST', '/orders', body, {'Idempotency-Key': key})
            answers.append(_compact(answer, key=key, full=answer['body'], phase='retry'))
    return answers


def _hold_first_publish(publisher, claimed, proceed):
    """Stop the relay at its first SNS call, inside its claim transaction:
    set `claimed`, then wait for `proceed` (an Event, or a Barrier of all the
    relays) before the call goes to SNS."""
    real = publisher.publish_batch
    calls = []

    def publish_batch(rows):
        if not calls:
            calls.append(len(rows))
            if claimed is not None:
                claimed.set()
            if proceed is not None and proceed.wait(BARRIER_TIMEOUT) is False:
                raise AssertionError('the relay was not let go on to SNS')
        return real(rows)

    publisher.publish_batch = publish_batch


def relay_once(
    lam,
    index,
    barrier=None,
    start_after=0.0,
    stop=None,
    linger=0.5,
    claimed=None,
    proceed=None,
    timeout_seconds=60,
):
    """One scheduled invocation of the outbox_relay Lambda (a warm copy: its
    database is open) with `timeout_seconds` to run; then, if given, set
    `stop` (`linger` seconds later). With `claimed` or `proceed`, the relay
    is held at its first SNS call (_hold_first_publish)."""
    import app as app_module
    from chalicelib.wiring import runtime

    runtime.database()
    publisher = runtime.publisher()
    if claimed is not None or proceed is not None:
        _hold_first_publish(publisher, claimed, proceed)
    if barrier is not None:
        barrier.wait(BARRIER_TIMEOUT)
    time.sleep(start_after)
    started = time.monotonic()
    published = app_module.outbox_relay(
        scheduled_event(), _context('orders-outbox_relay', timeout_seconds)
    )
    ended = time.monotonic()
    if stop is not None:
        time.sleep(linger)
        stop.set()
    return {**published, 'started': started, 'ended': ended}


def stream_creates(
    lam,
    index,
    user_id,
    ready,
    stop,
    pause=0.0,
    email=None,
    limit=100000,
    go=None,
    progress=None,
    done=None,
    sns_read_timeout=None,
):
    """POST orders one after the other until `stop` is set (or `limit`).
    After the warm-up: wait at `ready`, then for `go` if given. Each answer
    puts its request's start time in progress[index] (if given), so the
    test knows when this copy has answered a request made after a moment.
    At the end, wait at `done` if given. `sns_read_timeout` replaces the
    requests' own (before their SNS client is made)."""
    if sns_read_timeout is not None:
        from chalicelib.platform import aws

        aws._CONFIGS[aws.REQUEST]['read_timeout'] = sns_read_timeout
    answers = []

    def create(phase):
        answer = _compact(lam.request('POST', '/orders', order_body(user_id, email)), phase=phase)
        answers.append(answer)
        if progress is not None:
            progress[index] = answer['started']

    # Warm up first (imports, connection), as a warm Lambda copy would be.
    create('warmup')
    ready.wait(BARRIER_TIMEOUT)
    if go is not None and not go.wait(BARRIER_TIMEOUT):
        raise AssertionError('the test never said go')
    while len(answers) < limit:
        if pause:  # idle first: a warm copy waiting for its next request
            stop.wait(pause)
        if stop.is_set():
            break
        create('stream')
    if done is not None:
        done.wait(BARRIER_TIMEOUT)
    return answers


def race_for_stock(lam, index, orders, barrier, cancel_every=0, extra=None):
    """Once every copy is ready, POST each order (a list of (product_id,
    quantity), priced from the catalog, with `extra` fields such as a
    discount_code) one after the other; with `cancel_every` n, cancel every
    n-th order this copy got, at once (its stock and its code's use go back
    while the others still race for them)."""
    barrier.wait(BARRIER_TIMEOUT)
    answers, placed = [], 0
    for lines in orders:
        answer = lam.request(
            'POST',
            '/orders',
            {
                'user_id': 4242,
                'items': [
                    {'product_id': product_id, 'quantity': quantity}
                    for product_id, quantity in lines
                ],
                **(extra or {}),
            },
        )
        body = answer['body'] if isinstance(answer['body'], dict) else {}
        answers.append(_compact(answer, kind='create', lines=lines, errors=body.get('errors')))
        if answer['status'] != 201:
            continue
        placed += 1
        if cancel_every and placed % cancel_every == 0:
            cancel = lam.request('PUT', f'/orders/{body["order_id"]}', {'status': 'cancelled'})
            answers.append(_compact(cancel, kind='cancel', lines=lines, id=body['order_id']))
    return answers


def expire_repeatedly(lam, index, barrier, runs):
    """The scheduled expire_unpaid, `runs` times back to back once every copy
    is ready, as overlapping Lambda invocations would: how many each expired."""
    import app as app_module

    event = scheduled_event()
    barrier.wait(BARRIER_TIMEOUT)
    return [
        app_module.expire_unpaid(event, _context('orders-expire_unpaid', 60))['expired']
        for _ in range(runs)
    ]


def pay_orders(lam, index, order_ids, barrier):
    """Once every copy is ready, mark each order paid (a payment taken meanwhile)."""
    barrier.wait(BARRIER_TIMEOUT)
    return [
        _compact(lam.request('PUT', f'/orders/{order_id}', {'status': 'paid'}), id=order_id)
        for order_id in order_ids
    ]


def migrate_at_once(lam, index, barrier):
    """The migrate function, as `aws lambda invoke` runs it, once every copy
    is ready: what it answered."""
    import app as app_module

    barrier.wait(BARRIER_TIMEOUT)
    started = time.monotonic()
    answer = app_module.migrate_function({}, _context('orders-migrate', 120))
    return {**answer, 'started': started, 'ended': time.monotonic()}


def requests_at_once(lam, index, requests, barrier):
    """For each (method, path, body, headers) (or {worker index: ...}): wait
    for every worker, then send it at once. A str body is sent as it is
    (a webhook's exact bytes)."""
    answers = []
    for request in requests:
        if isinstance(request, dict):
            request = request[index]
        method, path, body, headers = request
        barrier.wait(BARRIER_TIMEOUT)
        answer = lam.request(method, path, body, headers)
        answers.append(_compact(answer, path=path, full=answer['body']))
    return answers


def refund_relay_until(lam, index, stop, barrier=None):
    """The refund_relay Lambda, run again and again until `stop` is set and a
    run found nothing: what each run answered."""
    import app as app_module
    from chalicelib.wiring import runtime

    runtime.database()
    if barrier is not None:
        barrier.wait(BARRIER_TIMEOUT)
    runs = []
    while True:
        stopping = stop.is_set()
        answer = app_module.refund_relay(scheduled_event(), _context('orders-refund_relay', 120))
        runs.append(answer['answered'])
        if stopping and not answer['answered']:
            return runs
        time.sleep(0.02)


def _context(function_name, timeout_seconds):
    """A Lambda context whose remaining time runs out `timeout_seconds` from now."""
    deadline = time.monotonic() + timeout_seconds
    return SimpleNamespace(
        aws_request_id=str(uuid.uuid4()),
        function_name=function_name,
        memory_limit_in_mb=256,
        invoked_function_arn=f'arn:aws:lambda:us-east-1:123456789012:function:{function_name}',
        get_remaining_time_in_millis=lambda: int((deadline - time.monotonic()) * 1000),
    )


def serve_moto(conn, spool_dir):
    """A moto server on 127.0.0.1 (any free port): send the port, serve.

    A thread moves every message that reaches an SQS queue into
    <spool_dir>/<queue name>.jsonl, as a consumer would: moto computes all
    of a queue's attributes (a scan of every message) on each SendMessage,
    so a queue left to fill makes publishing 3,000 events take minutes."""
    import logging
    import threading

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.server import ThreadedMotoServer
    from moto.sqs.models import sqs_backends

    logging.getLogger('werkzeug').setLevel(logging.WARNING)  # a line per request
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
    server.start()

    def drain():
        backend = sqs_backends[DEFAULT_ACCOUNT_ID]['us-east-1']
        while True:
            for queue in list(backend.queues.values()):
                taken = queue._messages[:]
                if not taken:
                    continue
                with open(os.path.join(spool_dir, f'{queue.name}.jsonl'), 'a') as spool:
                    spool.writelines(json.dumps(m.body) + '\n' for m in taken)
                # Messages are only ever appended meanwhile: drop what was taken.
                del queue._messages[: len(taken)]
            time.sleep(0.05)

    threading.Thread(target=drain, daemon=True).start()
    conn.send(server.get_host_and_port()[1])
    while True:
        time.sleep(3600)


TASKS = {
    'race_status_changes': race_status_changes,
    'post_same_key': post_same_key,
    'relay_once': relay_once,
    'stream_creates': stream_creates,
    'migrate_at_once': migrate_at_once,
    'race_for_stock': race_for_stock,
    'expire_repeatedly': expire_repeatedly,
    'pay_orders': pay_orders,
    'requests_at_once': requests_at_once,
    'refund_relay_until': refund_relay_until,
}
