"""GET /openapi.json and GET /docs: the committed document and a Swagger UI page
that needs nothing from elsewhere; and the service's own answers, checked
against the document's response schemas (which the service does not use to
build them)."""

import base64
import hashlib
import json
import os
import re

import pytest
from openapi_schema_validator import OAS31Validator

from tests.support import create_order, json_of, send

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVED = os.path.join(ROOT, 'chalicelib', 'api', 'openapi.json')
VENDORED = os.path.join(ROOT, 'chalicelib', 'api', 'swagger-ui')


@pytest.fixture(scope='module')
def document():
    with open(SERVED, encoding='utf-8') as committed:
        return json.load(committed)


def conforms(document, name, value):
    """Raise unless value matches components/schemas/<name> (OpenAPI 3.1: JSON
    Schema 2020-12)."""
    schema = {'$ref': f'#/components/schemas/{name}', 'components': document['components']}
    OAS31Validator(schema).validate(value)


def test_openapi_json_serves_the_committed_document(client):
    response = client.http.get('/openapi.json')

    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'application/json'
    with open(SERVED, 'rb') as committed:
        assert response.body == committed.read()


def test_docs_is_one_page_with_swagger_ui_inline_and_nothing_from_elsewhere(client):
    response = client.http.get('/docs')
    page = response.body.decode('utf-8')

    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'text/html; charset=utf-8'
    with open(os.path.join(VENDORED, 'swagger-ui-bundle.js'), encoding='utf-8') as bundle:
        assert bundle.read() in page
    assert "url: 'openapi.json'" in page
    # No script, stylesheet or image is fetched: not from a CDN, not from us.
    assert not re.search(r'<(script|link|img)[^>]+(src|href)=["\'](?!data:)', page)


def test_docs_policy_lets_only_its_own_inline_scripts_run(client):
    response = client.http.get('/docs')
    page = response.body.decode('utf-8')
    policy = dict(
        part.strip().split(' ', 1)
        for part in response.headers['Content-Security-Policy'].split(';')
    )
    scripts = re.findall(r'<script>(.*?)</script>', page, re.DOTALL)

    assert policy['default-src'] == "'none'"
    assert policy['connect-src'] == "'self'"
    assert policy['script-src'].split() == [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    ]
    assert len(scripts) == 2


def test_vendored_swagger_ui_is_the_version_recorded(client):
    with open(os.path.join(VENDORED, 'VERSION'), encoding='utf-8') as recorded:
        version = recorded.read().strip()
    with open(os.path.join(VENDORED, 'swagger-ui-bundle.js'), encoding='utf-8') as bundle:
        assert f'PACKAGE_VERSION:"{version}"' in bundle.read()


def test_reference_routes_need_no_token(client):
    for path in ('/openapi.json', '/docs', '/health'):
        assert client.http.get(path).status_code == 200, path


def test_order_answers_match_the_documented_schemas(client, document):
    created = create_order(client, user_email='ada@example.com')
    order_id = created['order_id']
    changed = json_of(send(client, 'PUT', f'/orders/{order_id}', {'status': 'paid'}))
    create_order(client, user_id=2)
    listed = json_of(send(client, 'GET', '/orders?page_size=1'))
    by_cursor = json_of(send(client, 'GET', f'/orders?cursor={listed["next_cursor"]}'))
    missing = json_of(send(client, 'GET', '/orders/999999'))
    invalid = json_of(send(client, 'POST', '/orders', {'user_id': '1', 'items': []}))

    for order in (created, changed, json_of(send(client, 'GET', f'/orders/{order_id}'))):
        conforms(document, 'Order', order)
    for page in (listed, by_cursor):
        conforms(document, 'OrderList', page)
    for error in (missing, invalid):
        conforms(document, 'Error', error)
    conforms(document, 'Health', json_of(send(client, 'GET', '/health')))


def test_shipment_and_history_answers_match_the_documented_schemas(client, document):
    order_id = create_order(client)['order_id']
    shipped = json_of(
        send(
            client,
            'PUT',
            f'/orders/{order_id}',
            {
                'status': 'shipped',
                'carrier': 'DHL',
                'tracking_number': 'JD-1',
                'tracking_url': 'https://track.example.com/JD-1',
            },
        )
    )
    cancelled_id = create_order(client)['order_id']
    send(client, 'PUT', f'/orders/{cancelled_id}', {'status': 'cancelled', 'reason': 'Late'})

    conforms(document, 'Order', shipped)
    assert shipped['shipment'] is not None
    for oid in (order_id, cancelled_id):
        conforms(document, 'OrderHistory', json_of(send(client, 'GET', f'/orders/{oid}/history')))
    refused = send(client, 'GET', '/users/1/orders/export?from=2026-02-02&to=2026-02-01')
    conforms(document, 'Error', json_of(refused))
