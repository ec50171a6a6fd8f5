"""The OpenAPI document drives the service: schemathesis generates requests from
docs/openapi.json, the app answers them on SQLite, and every answer must be one
the document gives for that operation (status, content type, headers, body
schema), and never a 5xx.

Chalice is neither WSGI nor ASGI, so each generated case is serialised the way
schemathesis sends it over HTTP (its transport kwargs, prepared by requests)
and handed to chalice.test.Client, which runs the same local gateway as
`chalice local`. Bounded and deterministic: MAX_EXAMPLES per operation with a
derandomised search, and a short stateful run that follows the document's links
(create an order, then read, change, delete it, list its user's orders).

Every check schemathesis has runs (but ignored_auth: see below), and among them
positive_data_acceptance: a request valid by the document that the service
refuses fails the test, unless the refusal is on ALLOWED_REFUSALS, the short
list of rules JSON Schema cannot state.
"""

import functools
import os
import time
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.python._constants.orchestrator import make_constants_value_source
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from chalicelib.orders import counts
from chalicelib.storage import connection
from chalicelib.storage.models import MODELS
from tests.support import create_order, json_of, order_body
from tests.support import send as send_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(ROOT, 'docs', 'openapi.json')
BASE_URL = 'http://orders.test'
# A deeper search, now and then: CONTRACT_EXAMPLES=1000 make test.
MAX_EXAMPLES = int(os.environ.get('CONTRACT_EXAMPLES', '30'))
# The rules a request valid by the document may still break: each is one JSON
# Schema cannot state, and the operation's description states it instead.
# (operation or '*', where: the field's path in `errors` (list indices left
# out; a path matches itself and the paths below it), or the status, or the
# Message when there is no `errors`; the start of the message or ''; why).
# Anything else refused is a document to fix.
_CURSOR = 'A cursor is one the service issued (its content is opaque), for these filters.'
_PAGE = 'page with cursor, or (page - 1) x page_size over 2^63-1: ties between parameters.'
_VERSION = "If-Match names a version: the resource's current version decides (state)."
_REPLAY = 'An Idempotency-Key already used with another body: what was sent before decides.'
# The country is an enum in the document; what it then requires is data per
# country (Google's address data), beyond what a document can carry.
_ADDRESS = (
    "The country's address rules: which fields it requires, its regions and its "
    'postal-code formats (by region too).'
)
_ADDRESS_FIELDS = [
    (f'{address}.{field}', _ADDRESS)
    for address in ('shipping_address', 'billing_address')
    for field in ('line1', 'city', 'region', 'postal_code')
]
ALLOWED_REFUSALS = [
    *(('*', where, '', why) for where, why in _ADDRESS_FIELDS),
    ('POST /orders/quote', 'user_id', '', "Staff must name the user: the token's role decides."),
    ('POST /orders/quote', 'items', '', 'A product on sale, in one currency, and its decimals.'),
    ('POST /orders/quote', 'currency', '', "A body currency must be its catalog lines'."),
    ('PUT /shipping-methods/{code}', 412, '', _VERSION),
    ('PUT /discounts/{code}', 412, '', _VERSION),
    ('PUT /discounts/{code}', '*', 'Must be a UTC time', 'A real date and time of day.'),
    ('POST /orders', 'user_id', '', "Staff must name the user: the token's role decides."),
    ('POST /orders', 'items', '', 'A product on sale, in one currency, and its decimals.'),
    ('POST /orders', 'currency', '', "A body currency must be its catalog lines' currency."),
    ('POST /orders', 422, '', _REPLAY),
    ('POST /orders/{order_id}/refunds', 422, '', _REPLAY),
    ('POST /orders/{order_id}/returns', 422, '', _REPLAY),
    (
        'POST /orders/{order_id}/returns',
        'items',
        '',
        "Each line one of the order's lines, named once: the order decides.",
    ),
    ('PUT /orders/{order_id}/returns/{return_id}', 412, '', _VERSION),
    (
        'PUT /orders/{order_id}/returns/{return_id}',
        'items',
        '',
        'What arrived of every line of the return, each once: the return decides.',
    ),
    (
        'PUT /orders/{order_id}/returns/{return_id}',
        'deduction',
        '',
        "The deduction's decimals follow the order's currency (JPY: none).",
    ),
    ('PUT /orders/{order_id}', 412, '', _VERSION),
    ('PUT /products/{product_id}', 412, '', _VERSION),
    ('*', 'cursor', 'Not a valid cursor.', _CURSOR),
    ('*', '*', 'Does not match the filter the cursor was made with.', _CURSOR),
    ('*', 'page', '', _PAGE),
    ('GET /users/{user_id}/orders/export', 'from', 'Must not be after', 'Two values compared.'),
    ('POST /webhooks/stripe', 'Invalid Stripe-Signature', '', "Stripe's HMAC of the body."),
    (
        '*',
        '*',
        'Not a valid integer.',
        '1.0 is an integer to JSON Schema 2020-12 (a number with no fraction); the '
        'service takes integers written without a fraction, as the contract says.',
    ),
]


def _refusals(body, path=()):
    """(path, message) of each problem an error answer lists: the path of
    keys to it, dotted, without list indices (items.product_id)."""
    if isinstance(body, dict):
        for key, value in body.items():
            yield from _refusals(value, path if key.isdigit() else (*path, key))
    elif isinstance(body, list):
        for value in body:
            yield from _refusals(value, path)
    else:
        yield '.'.join(path) if path else None, str(body)


def _entry(case, where, message):
    """The first ALLOWED_REFUSALS entry that explains this refusal, or None."""
    for entry in ALLOWED_REFUSALS:
        operation, place, start, _ = entry
        placed = place in ('*', where) or (isinstance(where, str) and where.startswith(f'{place}.'))
        if operation in ('*', case.operation.label) and placed and message.startswith(start):
            return entry
    return None


def allowing(case, response):
    """The entry that explains each problem of a refusal (None: unexplained)."""
    if response.status_code != 400:
        return [_entry(case, response.status_code, '')]
    body = response.json()
    if not body.get('errors'):
        return [_entry(case, body.get('Message'), '')]
    return [_entry(case, where, message) for where, message in _refusals(body['errors'])]


def _refusal_allowed(case, response):
    return all(entry is not None for entry in allowing(case, response))


def positive_data_acceptance_but_the_allowed(ctx, response, case):
    """positive_data_acceptance, less the refusals ALLOWED_REFUSALS explains."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except AssertionError:
        if _refusal_allowed(case, response):
            return None
        raise


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance_but_the_allowed,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
]
# What a sequence shows: a created order can be read; a deleted one is gone.
STATEFUL_CHECKS = [ensure_resource_availability, use_after_free]

schema = schemathesis.openapi.from_path(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            'base-url': BASE_URL,
            # The token is ours (a valid staff token, sent by send_case), not one
            # schemathesis makes up. Its ignored_auth check cannot tell ours from a
            # made-up one, so the refusal without a token is proven elsewhere
            # (test_identity_and_access.py, for every protected route).
            'generation': {
                'max-examples': MAX_EXAMPLES,
                'deterministic': True,
                'with-security-parameters': False,
            },
            # OPTIONS is left out: chalice.test.Client fails on Chalice's own preflight
            # answer (a None body); API Gateway answers OPTIONS before the Lambda anyway.
            'phases': {'coverage': {'unexpected-methods': ['patch', 'trace']}},
        }
    ),
)


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: the contract is the same on MariaDB, and its suites cover it."""
    return f'sqlite:///{tmp_path}/orders.sqlite3'


@pytest.fixture(autouse=True)
def card_payments(stripe):
    """Stripe configured (localstripe): a 501 for want of it would be a 5xx."""
    return stripe


@pytest.fixture
def bearer_token(staff_token):
    """Sent with every request: staff may call every operation."""
    return staff_token


def send_case(client, case, token):
    """Send a case as schemathesis would over HTTP, through the Chalice gateway."""
    kwargs = case.as_transport_kwargs(headers={'Authorization': f'Bearer {token}'})
    prepared = requests.Request(
        method=kwargs['method'],
        url=kwargs['url'],
        headers=kwargs['headers'],
        params=kwargs.get('params'),
        json=kwargs.get('json'),
        data=kwargs.get('data'),
        cookies=kwargs.get('cookies'),
    ).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b''
    started = time.perf_counter()
    answer = client.http.request(
        prepared.method,
        url.path + (f'?{url.query}' if url.query else ''),
        headers=dict(prepared.headers),
        body=body.encode('utf-8') if isinstance(body, str) else body,
    )
    elapsed = time.perf_counter() - started
    headers = {name.lower(): [value] for name, value in answer.headers.items()}
    if answer.body:
        # What API Gateway (and chalice local) send when the Lambda names no type.
        headers.setdefault('content-type', ['application/json'])
    return schemathesis.Response(
        status_code=answer.status_code,
        headers=headers,
        content=answer.body or b'',
        request=prepared,
        elapsed=elapsed,
        verify=True,
    )


# One test per operation of the document, its Hypothesis test built when it
# runs rather than when pytest collects it: schemathesis' own
# @schema.parametrize() builds every operation's coverage cases at collection
# (about 13 s for this document, its patterns and bounds), and under xdist
# every worker collects every test, so each paid it once more for nothing.
# build_operation_test is what that decorator calls for each operation, with
# the same configuration, seed and settings: the same cases are sent.
OPERATIONS = {result.ok().label: result.ok() for result in schema.get_all_operations()}


@functools.cache
def _feedback():
    """One for every operation, as the decorator shares it."""
    return FeedbackSources(constants_value_source=make_constants_value_source(schema))


@pytest.mark.parametrize('label', list(OPERATIONS))
def test_every_answer_is_one_the_document_gives(label, client, bearer_token):
    @settings(
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def answer_is_in_the_document(case):
        response = send_case(client, case, bearer_token)

        case.validate_response(response, checks=CHECKS)

    run = build_operation_test(
        config=schema.config,
        operation=OPERATIONS[label],
        test_func=answer_is_in_the_document,
        given_kwargs={},
        feedback=_feedback(),
    )
    run()


def test_following_the_links_keeps_every_answer_in_the_document(client, bearer_token):
    """Create orders, then read, change and delete them and list their users'
    orders, as the document's links say: the paths where an order exists."""

    class Scenario(schema.as_state_machine()):
        def setup(self):
            # Each scenario on an empty database with ids from 1: replayed while
            # Hypothesis searches, the same steps get the same answers.
            for model in reversed(MODELS):
                model.delete().execute()
            connection.database.execute_sql('DELETE FROM sqlite_sequence')
            counts.recount()

        def call(self, case, **kwargs):
            return send_case(client, case, bearer_token)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response, checks=CHECKS + STATEFUL_CHECKS, recorder=self.recorder
            )

    run_state_machine_as_test(
        Scenario,
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=6,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_a_deleted_orders_idempotency_key_never_replays_it(client):
    headers = {'Idempotency-Key': 'deleted-order-key'}
    first = create_order(client, headers=headers)
    assert send_json(client, 'DELETE', f'/orders/{first["order_id"]}').status_code == 204

    again = send_json(client, 'POST', '/orders', order_body(), headers)

    assert 'Idempotent-Replayed' not in again.headers
    assert again.status_code == 201 and json_of(again)['order_id'] != first['order_id']
