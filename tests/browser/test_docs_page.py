"""GET /docs in a real browser: `chalice local` as `make run` starts it (on a
free port, a temporary SQLite and mail directory), headless Chromium driven
over the DevTools protocol. Every route is listed, nothing breaks the page's
Content-Security-Policy, and Authorize sends the bearer token with "Try it
out". The rendered page is saved as a PNG in the test's temporary directory;
with DOCS_SCREENSHOT=1 (`make docs-screenshot`) it replaces the committed
docs/screenshots/api-docs.png instead, so a plain test run leaves the checkout
clean.

Skipped where Chromium is not installed, except under CI=true, where it
fails: .ci/run installs Debian's chromium (`apt-get install chromium` as
root; CHROMIUM names another binary)."""

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

from app import app
from tests.local_service import make_run
from tests.support import IN_CI

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / 'docs' / 'screenshots' / 'api-docs.png'
REFRESH_SCREENSHOT = os.environ.get('DOCS_SCREENSHOT') == '1'
CHROMIUM = os.environ.get('CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium'
TIMEOUT = 30

if not os.access(CHROMIUM, os.X_OK):
    if IN_CI:
        pytest.fail(
            f'Chromium is not installed ({CHROMIUM}) and CI=true: the browser test '
            'must run (.ci/run installs it)',
            pytrace=False,
        )
    pytest.skip(
        f'Chromium is not installed ({CHROMIUM}): apt-get install chromium', allow_module_level=True
    )


def wait_until(check, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f'{what}: not within {timeout} s')


@pytest.fixture(scope='module')
def service(tmp_path_factory, issuer):
    """`make run`: chalice local on the local stage, SQLite, mail to files,
    trusting the test run's token issuer."""
    with make_run(tmp_path_factory.mktemp('service'), issuer) as base:
        yield base


class DevTools:
    """Just enough of the DevTools protocol: commands, and the page's errors."""

    def __init__(self, url):
        self.socket = websocket.create_connection(url, timeout=TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.problems = []

    def send(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get('id') == self.next_id:
                if 'error' in message:
                    raise AssertionError(f'{method}: {message["error"]}')
                return message['result']
            self._note(message)

    def _note(self, event):
        if event.get('method') == 'Runtime.exceptionThrown':
            self.problems.append(event['params']['exceptionDetails'].get('text'))
        elif event.get('method') == 'Log.entryAdded':
            entry = event['params']['entry']
            if entry['level'] == 'error' or entry.get('source') == 'violation':
                self.problems.append(entry['text'])

    def evaluate(self, expression):
        result = self.send(
            'Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=True
        )
        if 'exceptionDetails' in result:
            raise AssertionError(f'{expression}: {result["exceptionDetails"]}')
        return result['result'].get('value')

    def wait_for(self, expression, what):
        return wait_until(lambda: self.evaluate(expression), what)

    def click(self, selector):
        self.wait_for(f'!!document.querySelector({json.dumps(selector)})', selector)
        self.evaluate(f'document.querySelector({json.dumps(selector)}).click()')

    def type_into(self, selector, text):
        """Focus and type, as a person would: React ignores a value set from JS."""
        self.click(selector)
        self.evaluate(f'document.querySelector({json.dumps(selector)}).focus()')
        self.send('Input.insertText', text=text)

    def close(self):
        self.socket.close()


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp('chromium-profile')
    process = subprocess.Popen(
        [
            CHROMIUM,
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            f'--user-data-dir={profile}',
            '--remote-debugging-port=0',
            '--window-size=1280,1400',
            'about:blank',
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Port 0: Chromium picks one and writes it into the profile.
        active = profile / 'DevToolsActivePort'
        port = wait_until(
            lambda: active.exists() and active.read_text().split('\n')[0],
            'Chromium listening for DevTools',
        )
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=5) as listing:
            [page] = [target for target in json.load(listing) if target['type'] == 'page']
        devtools = DevTools(page['webSocketDebuggerUrl'])
        for domain in ('Page', 'Runtime', 'Log'):
            devtools.send(f'{domain}.enable')
        yield devtools
        devtools.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def docs(service, browser):
    """/docs, freshly loaded for each test."""
    browser.send('Page.navigate', url='about:blank')
    browser.problems.clear()
    browser.send('Page.navigate', url=f'{service}/docs')
    count = sum(len(methods) for methods in app.routes.values())
    browser.wait_for(
        f'document.querySelectorAll(".opblock").length === {count}', 'every operation rendered'
    )
    yield browser
    assert browser.problems == [], 'the page reported errors'


@pytest.fixture
def bearer_token(staff_token):
    """What a reader pastes into Authorize."""
    return staff_token


def test_docs_lists_every_route_and_method(docs):
    listed = docs.evaluate("""[...document.querySelectorAll('.opblock-summary')].map(s => [
        s.querySelector('.opblock-summary-method').textContent,
        s.querySelector('.opblock-summary-path').dataset.path])""")

    assert sorted(map(tuple, listed)) == sorted(
        (method, path) for path, methods in app.routes.items() for method in methods
    )
    assert docs.evaluate('document.title') == 'Orders service API'


def test_docs_page_runs_within_its_policy_and_saves_a_screenshot(docs, tmp_path):
    docs.evaluate('window.scrollTo(0, 0)')
    shot = docs.send('Page.captureScreenshot', format='png')

    assert docs.problems == []
    picture = base64.b64decode(shot['data'])
    assert picture.startswith(b'\x89PNG\r\n\x1a\n')
    target = SCREENSHOT if REFRESH_SCREENSHOT else tmp_path / SCREENSHOT.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(picture)


def test_try_it_out_calls_the_api_beside_the_document_even_behind_a_stage_prefix(docs):
    # The document's server is ".": wherever it is served from, e.g. API
    # Gateway's /api stage, "Try it out" calls the API next to it.
    url = docs.evaluate("""window.ui.fn.buildRequest({
        spec: window.ui.specSelectors.specJson().toJS(), operationId: 'get_order',
        parameters: {order_id: 7},
        contextUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/api/openapi.json'}).url""")

    assert url == 'https://abc.execute-api.eu-west-1.amazonaws.com/api/orders/7'


def test_authorize_sends_the_bearer_token_with_try_it_out(docs, bearer_token):
    docs.click('button.btn.authorize')
    docs.type_into('.modal-ux input', bearer_token)
    docs.click('.modal-ux .auth-btn-wrapper button.authorize')
    docs.wait_for('!!document.querySelector(".modal-ux .auth-btn-wrapper .btn-done")', 'authorized')
    docs.click('.modal-ux .auth-btn-wrapper .btn-done')

    docs.click('#operations-orders-list_orders .opblock-summary-control')
    docs.click('#operations-orders-list_orders .try-out__btn')
    docs.click('#operations-orders-list_orders .btn.execute')
    status = docs.wait_for(
        'document.querySelector("#operations-orders-list_orders .live-responses-table '
        'tbody .response-col_status")?.textContent',
        'the answer shown',
    )
    curl = docs.evaluate(
        'document.querySelector("#operations-orders-list_orders .curl-command").textContent'
    )

    assert status.strip().startswith('200')
    assert f'Authorization: Bearer {bearer_token}' in curl
    assert docs.problems == []
