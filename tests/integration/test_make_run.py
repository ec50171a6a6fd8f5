"""`make run` runs the whole service (tools/run_local.py), as a new user
starts it: in a scratch copy of the project with an empty .data and none of
the test run's settings (tools/fresh_run.py). A busy port is refused before
anything is touched; once up it prints where everything is; the scheduled
functions, which `chalice local` does not run, run on their schedules."""

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import fresh_run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize('busy', ['PORT', 'STRIPE_PORT'])
def test_a_busy_port_is_refused_with_its_name_before_anything_is_touched(busy, busy_port, tmp_path):
    project = fresh_run.copy_project(tmp_path)
    free = fresh_run.free_port()
    ports = {'PORT': free, 'STRIPE_PORT': free, busy: busy_port}
    venv = tmp_path / 'no-venv-yet'
    result = subprocess.run(
        ['make', '-s', 'run', *(f'{name}={port}' for name, port in ports.items())],
        cwd=project,
        env=fresh_run.environment(VENV=str(venv)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode != 0
    assert f'port {busy_port} ({busy}) is not free' in result.stderr
    assert f'make run {busy}=<port>' in result.stderr
    # No venv built, no database or dev keys made, nothing listening on the other port.
    assert not venv.exists()
    assert not (project / '.data').exists()
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', free))


def token(run: fresh_run.Run, *args: str) -> str:
    made = subprocess.run(
        ['make', '-s', 'token', *args],
        cwd=run.project,
        env=run.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    )
    return made.stdout.strip()


def call(run: fresh_run.Run, method: str, path: str, bearer: str, body: dict | None = None):
    request = urllib.request.Request(
        run.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={'Authorization': f'Bearer {bearer}', 'Content-Type': 'application/json'},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.loads(response.read())


DEMO_ORDER = {
    'items': [{'product_id': 101, 'quantity': 1}],
    'shipping_method': 'standard',
    'shipping_address': {
        'name': 'Ada Lovelace',
        'line1': '12 Main St',
        'city': 'Springfield',
        'region': 'IL',
        'postal_code': '62704',
        'country': 'US',
    },
}


@pytest.fixture(scope='module')
def unpaid_order_left_for_a_second_run(tmp_path_factory) -> Iterator[tuple[Path, int]]:
    """An order left unpaid by one `make run`, in a project's database."""
    project = fresh_run.copy_project(tmp_path_factory.mktemp('make-run'))
    with fresh_run.make_run(project) as run:
        customer = token(run, 'USER_ID=1', 'EMAIL=ada@example.com')
        # The demo shop ships: a customer's order names a method and an address.
        order = call(run, 'POST', '/orders', customer, DEMO_ORDER)
    yield project, order['order_id']


@pytest.fixture(scope='module')
def second_run(unpaid_order_left_for_a_second_run) -> Iterator[tuple[fresh_run.Run, int]]:
    """`make run` again, with a payment window of a second: the order is older."""
    project, order_id = unpaid_order_left_for_a_second_run
    time.sleep(1)  # the order must be older than the window, whatever the machine's speed
    with fresh_run.make_run(project, PAYMENT_WINDOW_SECONDS='1') as run:
        yield run, order_id


def test_make_run_prints_where_the_api_its_reference_and_tokens_are(second_run):
    run, _ = second_run
    printed = run.printed()
    assert re.search(rf'API +http://localhost:{run.port} ', printed)
    assert re.search(rf'API reference +http://localhost:{run.port}/docs\n', printed)
    assert re.search(rf'Stripe stand-in +http://localhost:{run.stripe_port} ', printed)
    for command in (
        'make -s token USER_ID=1 EMAIL=ada@example.com',
        'make -s token ROLE=staff',
        'make -s token ROLE=service',
    ):
        assert command in printed


def test_make_run_runs_every_scheduled_function_with_a_lambda_context(second_run):
    run, _ = second_run
    names = {'outbox_relay', 'refund_relay', 'expire_unpaid', 'housekeeping'}
    deadline = time.monotonic() + TIMEOUT
    ran: set[str] = set()
    while ran != names and time.monotonic() < deadline:
        time.sleep(0.2)
        lines = [
            json.loads(line) for line in run.printed().splitlines() if line.startswith('{"time')
        ]
        ran = {
            line['function_name'].removeprefix('orders-local-')
            for line in lines
            if line.get('function_name', '').startswith('orders-local-')
        }
    assert ran == names


def test_an_order_older_than_the_payment_window_is_expired_by_make_run(second_run):
    run, order_id = second_run
    staff = token(run, 'ROLE=staff')
    deadline = time.monotonic() + TIMEOUT
    order = call(run, 'GET', f'/orders/{order_id}', staff)
    while order['status'] == 'pending' and time.monotonic() < deadline:
        time.sleep(0.2)
        order = call(run, 'GET', f'/orders/{order_id}', staff)
    assert order['status'] == 'cancelled'
    history = call(run, 'GET', f'/orders/{order_id}/history', staff)
    assert history[-1]['reason'] == 'not paid in time'


@pytest.mark.parametrize('method', ['TRACE', 'QUERY'])
def test_a_method_no_route_takes_is_the_apps_405_not_the_development_servers_501(
    second_run, method
):
    run, _ = second_run
    request = urllib.request.Request(run.url + '/health', method=method)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=TIMEOUT)
    assert refused.value.code == 405
    assert json.loads(refused.value.read())['Code'] == 'MethodNotAllowedError'


def test_the_development_servers_access_lines_are_json_lines(second_run):
    run, _ = second_run
    with urllib.request.urlopen(run.url + '/health', timeout=TIMEOUT) as response:
        assert response.status == 200
    deadline = time.monotonic() + TIMEOUT
    access: list[dict] = []
    while not access and time.monotonic() < deadline:
        time.sleep(0.1)
        printed = run.printed().splitlines()
        access = [
            line
            for line in map(json.loads, filter(lambda text: text.startswith('{'), printed))
            if line.get('message', '').startswith('"GET /health HTTP/1.1" 200')
        ]
    assert access and access[0]['level'] == 'INFO'
    # http.server's own plain-text form: `127.0.0.1 - - [07/Dec/2026 ...] "GET ..."`
    assert not [line for line in printed if re.match(r'\S+ - - \[', line)]
