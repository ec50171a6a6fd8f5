"""Bearer tokens and who may do what, from the attacker's side, through
chalice.test.Client on SQLite and MariaDB. Tokens are signed in the tests by
the test run's own issuer (a key made for the run), or forged."""

import json
import time

import pytest
from cryptography.hazmat.primitives import serialization

from chalicelib.identity.dev_issuer import DevIssuer
from chalicelib.wiring import runtime
from tests.support import bearer, json_of, order_body, send, sqlite_only
from tests.unit.jwt_support import forge, rsa_key

ADA, BOB = 1, 2
ADA_EMAIL = 'ada@example.com'


@pytest.fixture
def tokens(issuer):
    class Tokens:
        ada = bearer(issuer.mint(user_id=ADA, email=ADA_EMAIL))
        bob = bearer(issuer.mint(user_id=BOB, email='bob@example.com'))
        staff = bearer(issuer.mint(role='staff'))
        service = bearer(issuer.mint(role='service'))

    return Tokens


@pytest.fixture
def orders(client, tokens):
    """One pending order of Ada's and one of Bob's, made by staff."""
    made = {}
    for user_id, email in ((ADA, ADA_EMAIL), (BOB, 'bob@example.com')):
        response = send(
            client, 'POST', '/orders', order_body(user_id=user_id, user_email=email), tokens.staff
        )
        assert response.status_code == 201, response.body
        made[user_id] = json_of(response)['order_id']
    return made


def refused(response, status, code):
    assert response.status_code == status, (response.status_code, response.body)
    body = json_of(response)
    assert body['Code'] == code and body['Message']
    return body


def unauthorized(response, challenge='Bearer error="invalid_token"'):
    body = refused(response, 401, 'UnauthorizedError')
    assert response.headers['WWW-Authenticate'] == challenge
    return body


def signed(issuer, **overrides):
    """A token of the test issuer with claims changed (None drops one)."""
    claims = {**issuer.claims(user_id=ADA, email=ADA_EMAIL), **overrides}
    return bearer(issuer.sign({k: v for k, v in claims.items() if v is not None}))


def public_jwk_pem(issuer):
    issuer.ensure_keys()
    return issuer._private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# -- no valid token: 401 --------------------------------------------------------
#
# A 401 is the authenticator's verdict (a pure rule) before any database
# work, so these run on SQLite only: on MariaDB they proved nothing more.


@sqlite_only
def test_no_token_is_401_with_a_bare_bearer_challenge(client, orders):
    unauthorized(
        client.http.get(f'/orders/{orders[ADA]}', headers={'Authorization': None}),
        challenge='Bearer',
    )


@sqlite_only
def test_another_scheme_is_401_like_no_token(client, orders):
    unauthorized(
        client.http.get('/orders', headers={'Authorization': 'Basic YWRhOnB3'}), challenge='Bearer'
    )


def test_health_needs_no_token(client):
    assert client.http.get('/health', headers={'Authorization': None}).status_code == 200


@sqlite_only
def test_every_protected_route_refuses_a_missing_token(client, orders):
    routes = [
        ('POST', '/orders', order_body()),
        ('GET', '/orders', None),
        ('GET', f'/orders/{orders[ADA]}', None),
        ('PUT', f'/orders/{orders[ADA]}', {'status': 'paid'}),
        ('DELETE', f'/orders/{orders[ADA]}', None),
        ('GET', f'/users/{ADA}/orders', None),
    ]
    for method, path, body in routes:
        unauthorized(send(client, method, path, body, {'Authorization': None}), challenge='Bearer')


@sqlite_only
@pytest.mark.parametrize(
    'case',
    [
        'expired',
        'not yet valid',
        'issued in the future',
        'wrong issuer',
        'wrong audience',
        'no audience',
        'user id not an integer',
        'user id negative',
        'no role',
    ],
)
def test_a_token_failing_a_claim_check_is_401(client, issuer, orders, case):
    now = int(time.time())
    overrides = {
        'expired': {'iat': now - 7200, 'exp': now - 120},  # beyond the 60 s leeway
        'not yet valid': {'nbf': now + 600},
        'issued in the future': {'iat': now + 600, 'exp': now + 4200},
        'wrong issuer': {'iss': 'https://evil.example.com/'},
        'wrong audience': {'aud': 'another-app'},
        'no audience': {'aud': None},
        'user id not an integer': {'custom:user_id': '1.5'},
        'user id negative': {'custom:user_id': '-1'},
        'no role': {'custom:user_id': None},
    }[case]
    unauthorized(client.http.get(f'/orders/{orders[ADA]}', headers=signed(issuer, **overrides)))


def test_a_token_within_the_clock_skew_is_accepted(client, issuer, orders):
    now = int(time.time())
    response = client.http.get(
        f'/orders/{orders[ADA]}', headers=signed(issuer, iat=now + 20, exp=now + 3600)
    )
    assert response.status_code == 200


@sqlite_only
def test_alg_none_is_401(client, issuer, orders):
    claims = issuer.claims(role='staff')
    header = {'alg': 'none', 'kid': issuer._jwk['kid'], 'typ': 'JWT'}
    token = forge(header, claims, key=rsa_key('unused')).rsplit('.', 1)[0] + '.'
    unauthorized(client.http.get(f'/orders/{orders[ADA]}', headers=bearer(token)))


@sqlite_only
def test_hs256_signed_with_the_public_key_is_401(client, issuer, orders):
    # The algorithm-confusion attack: the public key is public, so an HMAC
    # "signature" with it proves nothing.
    token = forge(
        {'alg': 'HS256', 'kid': issuer._jwk['kid'], 'typ': 'JWT'},
        issuer.claims(role='staff'),
        hmac_secret=public_jwk_pem(issuer),
    )
    unauthorized(client.http.get(f'/orders/{orders[ADA]}', headers=bearer(token)))


@sqlite_only
def test_a_key_outside_the_jwks_is_401_even_with_a_known_kid(client, issuer, orders):
    token = forge(
        {'alg': 'RS256', 'kid': issuer._jwk['kid'], 'typ': 'JWT'},
        issuer.claims(role='staff'),
        key=rsa_key('attacker'),
    )
    unauthorized(client.http.get(f'/orders/{orders[ADA]}', headers=bearer(token)))


@sqlite_only
def test_a_tampered_payload_is_401(client, issuer, orders):
    header, _payload, signature = issuer.mint(user_id=BOB).split('.')
    claims = issuer.claims(user_id=ADA)
    tampered = forge({}, claims).split('.')[1]
    unauthorized(
        client.http.get(
            f'/orders/{orders[ADA]}', headers=bearer(f'{header}.{tampered}.{signature}')
        )
    )


@sqlite_only
@pytest.mark.parametrize('token', ['abc', 'a.b', 'a.b.c', '..', 'x' * 20000])
def test_a_malformed_token_is_401(client, orders, token):
    unauthorized(client.http.get(f'/orders/{orders[ADA]}', headers=bearer(token)))


@sqlite_only
def test_the_401_says_nothing_about_the_order_asked_for(client, orders):
    existing = client.http.get(f'/orders/{orders[ADA]}', headers=bearer('junk'))
    missing = client.http.get('/orders/999999', headers=bearer('junk'))
    assert unauthorized(existing) == unauthorized(missing)


def test_a_rotated_key_is_picked_up_from_the_jwks(client, issuer, orders, tmp_path, monkeypatch):
    # The issuer publishes a new key (new kid) beside the old one: the first
    # token signed with it makes the service read the JWKS again.
    jwks = tmp_path / 'jwks.json'
    jwks.write_text(issuer.jwks_path.read_text())
    monkeypatch.setenv('AUTH_JWKS_URL', jwks.as_uri())
    from chalicelib.platform.config import get_settings

    runtime.reset()
    get_settings()
    assert client.http.get(f'/orders/{orders[ADA]}').status_code == 200  # keys loaded
    rotated = DevIssuer(tmp_path / 'rotated')
    rotated.ensure_keys()
    token = bearer(rotated.mint(role='staff'))
    keys = (
        json.loads(issuer.jwks_path.read_text())['keys']
        + json.loads(rotated.jwks_path.read_text())['keys']
    )
    jwks.write_text(json.dumps({'keys': keys}))

    assert client.http.get(f'/orders/{orders[ADA]}', headers=token).status_code == 200


def test_not_configured_outside_the_local_stage_refuses_every_request(client, monkeypatch):
    from chalicelib.platform.config import get_settings

    monkeypatch.delenv('AUTH_ISSUER')
    monkeypatch.setenv('ENVIRONMENT', 'prod')
    runtime.reset()
    get_settings()

    unauthorized(client.http.get('/orders'))


# -- customers: their own orders only --------------------------------------------


def test_a_customer_creates_for_themselves_with_their_verified_email(client, tokens, catalog):
    response = send(client, 'POST', '/orders', {'items': order_body()['items']}, tokens.ada)

    assert response.status_code == 201, response.body
    order = json_of(response)
    assert (order['user_id'], order['user_email']) == (ADA, ADA_EMAIL)


def test_a_customer_creating_for_another_user_is_403(client, tokens):
    refused(
        send(client, 'POST', '/orders', order_body(user_id=BOB), tokens.ada), 403, 'ForbiddenError'
    )


def test_a_customer_naming_a_strangers_email_is_403(client, tokens):
    body = order_body(user_id=ADA, user_email='stranger@example.com')
    refused(send(client, 'POST', '/orders', body, tokens.ada), 403, 'ForbiddenError')


def test_an_unverified_email_claim_is_never_used(client, issuer, catalog):
    token = signed(issuer, email_verified=False)

    response = send(client, 'POST', '/orders', {'items': order_body()['items']}, token)
    refused(
        send(client, 'POST', '/orders', order_body(user_id=ADA, user_email=ADA_EMAIL), token),
        403,
        'ForbiddenError',
    )

    assert json_of(response)['user_email'] is None


def test_email_verified_may_come_as_the_string_true(client, issuer, catalog):
    response = send(
        client,
        'POST',
        '/orders',
        {'items': order_body()['items']},
        signed(issuer, email_verified='true'),
    )
    assert json_of(response)['user_email'] == ADA_EMAIL


def test_a_customer_reads_their_own_order(client, tokens, orders):
    assert client.http.get(f'/orders/{orders[ADA]}', headers=tokens.ada).status_code == 200


@pytest.mark.parametrize(
    'method, body',
    [
        ('GET', None),
        ('PUT', {'status': 'cancelled'}),
        ('PUT', {'status': 'paid'}),
        ('DELETE', None),
    ],
)
def test_another_users_order_is_404_exactly_as_if_it_did_not_exist(
    client, tokens, orders, method, body
):
    theirs = send(client, method, f'/orders/{orders[BOB]}', body, tokens.ada)
    never = send(client, method, '/orders/999999', body, tokens.ada)

    assert refused(theirs, 404, 'NotFoundError') == refused(never, 404, 'NotFoundError')
    assert json_of(client.http.get(f'/orders/{orders[BOB]}'))['status'] == 'pending'


def user_access_token(issuer, scope, **claims):
    """A Cognito user's access token (a user signed in to the app client),
    carrying `scope` as a resource server of the pool may grant it."""
    made = {
        'iss': issuer.claims(role='service')['iss'],
        'iat': int(time.time()),
        'exp': int(time.time()) + 600,
        'sub': 'user-uuid-of-ada',
        'username': 'ada',
        'client_id': issuer.claims(role='service')['client_id'],
        'token_use': 'access',
        'scope': scope,
        **claims,
    }
    return bearer(issuer.sign(made))


def test_a_user_access_token_with_the_admin_scope_is_no_staff(client, issuer, orders):
    as_customer = user_access_token(issuer, 'openid orders/admin', **{'custom:user_id': '1'})

    refused(client.http.get(f'/orders/{orders[BOB]}', headers=as_customer), 404, 'NotFoundError')
    refused(client.http.get('/orders?user_id=2', headers=as_customer), 403, 'ForbiddenError')


@sqlite_only
@pytest.mark.parametrize('scope', ['orders/admin', 'orders/fulfilment'])
def test_a_user_access_token_with_a_scope_and_no_user_id_is_401(client, issuer, orders, scope):
    unauthorized(
        client.http.get(f'/orders/{orders[BOB]}', headers=user_access_token(issuer, scope))
    )


def test_a_client_credentials_token_gets_its_role_from_its_scope(client, tokens, orders):
    assert client.http.get(f'/orders/{orders[BOB]}', headers=tokens.service).status_code == 200


def test_a_customer_cancels_their_own_order(client, tokens, orders):
    response = send(client, 'PUT', f'/orders/{orders[ADA]}', {'status': 'cancelled'}, tokens.ada)

    assert response.status_code == 200
    assert json_of(response)['status'] == 'cancelled'


@pytest.mark.parametrize('status', ['paid', 'shipped', 'delivered'])
def test_a_customer_setting_any_other_status_is_403(client, tokens, orders, status):
    refused(
        send(client, 'PUT', f'/orders/{orders[ADA]}', {'status': status}, tokens.ada),
        403,
        'ForbiddenError',
    )


def test_a_customer_cancelling_a_shipped_order_is_409(client, tokens, orders):
    send(client, 'PUT', f'/orders/{orders[ADA]}', {'status': 'shipped'})

    refused(
        send(client, 'PUT', f'/orders/{orders[ADA]}', {'status': 'cancelled'}, tokens.ada),
        409,
        'ConflictError',
    )


def test_a_customer_deleting_their_own_order_is_403(client, tokens, orders):
    refused(
        send(client, 'DELETE', f'/orders/{orders[ADA]}', None, tokens.ada), 403, 'ForbiddenError'
    )
    assert client.http.get(f'/orders/{orders[ADA]}').status_code == 200


def test_a_customers_list_holds_and_counts_only_their_orders(client, tokens, orders):
    body = json_of(client.http.get('/orders', headers=tokens.ada))

    assert [order['order_id'] for order in body['orders']] == [orders[ADA]]
    assert body['total'] == 1


@pytest.mark.parametrize('path', [f'/orders?user_id={BOB}', f'/users/{BOB}/orders'])
def test_a_customer_listing_another_user_is_403(client, tokens, orders, path):
    refused(client.http.get(path, headers=tokens.ada), 403, 'ForbiddenError')


def test_a_customer_lists_their_own_user_path(client, tokens, orders):
    body = json_of(client.http.get(f'/users/{ADA}/orders', headers=tokens.ada))
    assert [order['order_id'] for order in body['orders']] == [orders[ADA]]


def test_a_cursor_from_a_staff_listing_shows_a_customer_only_their_orders(client, tokens):
    for user_id in (BOB, ADA, BOB, ADA, BOB):
        send(client, 'POST', '/orders', order_body(user_id=user_id))
    first = json_of(client.http.get('/orders?page_size=1'))  # staff: everyone's

    carried = client.http.get(
        f'/orders?cursor={first["next_cursor"]}&page_size=10', headers=tokens.ada
    )

    assert carried.status_code == 200
    assert {order['user_id'] for order in json_of(carried)['orders']} == {ADA}


def test_a_cursor_for_another_users_list_is_403_for_a_customer(client, tokens, orders):
    send(client, 'POST', '/orders', order_body(user_id=BOB))
    first = json_of(client.http.get(f'/users/{BOB}/orders?page_size=1'))

    refused(
        client.http.get(f'/orders?cursor={first["next_cursor"]}', headers=tokens.ada),
        403,
        'ForbiddenError',
    )


def test_an_idempotency_key_belongs_to_the_principal_that_sent_it(client, tokens, catalog):
    body = {'items': order_body()['items']}
    key = {'Idempotency-Key': 'checkout-42'}
    ada = send(client, 'POST', '/orders', body, {**tokens.ada, **key})
    bob = send(client, 'POST', '/orders', body, {**tokens.bob, **key})
    bob_other_body = send(
        client,
        'POST',
        '/orders',
        {'items': order_body()['items'][:1]},
        {**tokens.bob, 'Idempotency-Key': 'checkout-43'},
    )
    ada_again = send(client, 'POST', '/orders', body, {**tokens.ada, **key})

    assert (ada.status_code, bob.status_code, bob_other_body.status_code) == (201, 201, 201)
    assert 'Idempotent-Replayed' not in bob.headers
    assert json_of(bob)['user_id'] == BOB != json_of(ada)['user_id']
    assert ada_again.headers['Idempotent-Replayed'] == 'true'
    assert json_of(ada_again) == json_of(ada)


# -- fulfilment services and staff ------------------------------------------------


def test_a_service_reads_and_lists_any_order(client, tokens, orders):
    assert client.http.get(f'/orders/{orders[BOB]}', headers=tokens.service).status_code == 200
    assert json_of(client.http.get('/orders', headers=tokens.service))['total'] == 2
    assert client.http.get(f'/users/{BOB}/orders', headers=tokens.service).status_code == 200


def test_a_service_moves_orders_along_the_lifecycle(client, tokens, orders):
    for status in ('shipped', 'delivered'):
        response = send(client, 'PUT', f'/orders/{orders[BOB]}', {'status': status}, tokens.service)
        assert response.status_code == 200, response.body
    refused(
        send(client, 'PUT', f'/orders/{orders[BOB]}', {'status': 'cancelled'}, tokens.service),
        409,
        'ConflictError',
    )


def test_a_service_may_not_move_money(client, tokens, orders):
    """Setting paid (money in, with none taken) and cancelling a paid order
    (money out: a full refund follows) are staff's; the order stays as it was."""
    pending, paid = orders[BOB], orders[ADA]
    assert send(client, 'PUT', f'/orders/{paid}', {'status': 'paid'}).status_code == 200

    for order_id, status in ((pending, 'paid'), (paid, 'paid'), (paid, 'cancelled')):
        refused(
            send(client, 'PUT', f'/orders/{order_id}', {'status': status}, tokens.service),
            403,
            'ForbiddenError',
        )

    assert json_of(client.http.get(f'/orders/{pending}'))['status'] == 'pending'
    after = json_of(client.http.get(f'/orders/{paid}'))
    assert (after['status'], after['payment']['amount_refunded']) == ('paid', 0)
    cancelled = send(client, 'PUT', f'/orders/{pending}', {'status': 'cancelled'}, tokens.service)
    assert cancelled.status_code == 200, cancelled.body


@pytest.mark.parametrize('method, path', [('POST', '/orders'), ('DELETE', 'order')])
def test_a_service_may_not_create_or_delete(client, tokens, orders, method, path):
    path = f'/orders/{orders[BOB]}' if path == 'order' else path
    body = order_body() if method == 'POST' else None
    refused(send(client, method, path, body, tokens.service), 403, 'ForbiddenError')


def test_staff_create_for_any_user_and_email(client, tokens):
    response = send(
        client,
        'POST',
        '/orders',
        order_body(user_id=77, user_email='someone@example.com'),
        tokens.staff,
    )

    assert (json_of(response)['user_id'], json_of(response)['user_email']) == (
        77,
        'someone@example.com',
    )


def test_staff_without_a_user_id_is_400(client, tokens):
    refused(
        send(client, 'POST', '/orders', {'items': order_body()['items']}, tokens.staff),
        400,
        'BadRequestError',
    )


def test_staff_delete_any_order(client, tokens, orders):
    assert send(client, 'DELETE', f'/orders/{orders[BOB]}', None, tokens.staff).status_code == 204
