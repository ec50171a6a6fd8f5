import logging

import pytest

from chalicelib import identity
from chalicelib.core.errors import Unauthenticated
from chalicelib.identity import Authenticator, Principal, Refuser, build_authenticator
from chalicelib.identity.jwks import JwksCache
from chalicelib.platform import logs
from chalicelib.platform.config import AuthSettings, settings_from
from tests.unit.jwt_support import (
    AUDIENCE,
    ISSUER,
    KID,
    NOW,
    CountingFetch,
    FakeClock,
    jwk,
    jwks_bytes,
    mint,
    rsa_key,
)

AUTH = AuthSettings(
    issuer=ISSUER, audiences=(AUDIENCE,), jwks_url='https://issuer.example/jwks.json'
)


@pytest.fixture
def authenticator():
    keys = JwksCache(AUTH.jwks_url, fetch=CountingFetch(jwks_bytes(jwk(rsa_key('main'), KID))))
    return Authenticator(AUTH, keys=keys, clock=lambda: NOW)


@pytest.fixture
def log_records():
    """What the identity layer logs, caught on the service's own logger."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logs.log.addHandler(handler)
    yield records
    logs.log.removeHandler(handler)


def refusal(authenticator, header):
    with pytest.raises(Unauthenticated) as raised:
        authenticator.authenticate(header)
    return raised.value


def test_valid_bearer_token_gives_the_principal(authenticator):
    assert authenticator.authenticate(f'Bearer {mint()}') == Principal(
        'user-sub-1', 'customer', 1, None
    )


def test_bearer_scheme_is_case_insensitive(authenticator):
    assert authenticator.authenticate(f'bearer {mint()}').user_id == 1


@pytest.mark.parametrize('header', [None, '', '   '])
def test_missing_header_is_unauthenticated_with_no_token_sent(authenticator, header):
    assert refusal(authenticator, header).token_sent is False


def test_other_scheme_counts_as_no_token_and_its_credentials_stay_out_of_the_reason(authenticator):
    exc = refusal(authenticator, 'Basic dXNlcjpodW50ZXIy')

    assert exc.token_sent is False and 'dXNlcjpodW50ZXIy' not in exc.reason


def test_bearer_without_a_token_counts_as_a_token_sent(authenticator):
    assert refusal(authenticator, 'Bearer ').token_sent is True


def test_malformed_token_counts_as_a_token_sent(authenticator):
    assert refusal(authenticator, 'Bearer not-a-jwt').token_sent is True


def test_challenge_names_invalid_token_only_when_a_token_was_sent():
    assert identity.challenge(Unauthenticated('x', token_sent=False)) == 'Bearer'
    assert identity.challenge(Unauthenticated('x')) == 'Bearer error="invalid_token"'


def test_client_message_is_the_same_whatever_the_reason(authenticator):
    expired = refusal(authenticator, f'Bearer {mint(kid="other")}')
    bad = refusal(authenticator, 'Bearer a.b.c')

    assert str(expired) == str(bad) == 'The bearer token is invalid or expired'


def test_not_configured_outside_the_local_stage_refuses_everything_and_logs_why(log_records):
    authenticator = build_authenticator(settings_from({'ENVIRONMENT': 'prod'}))

    exc = refusal(authenticator, f'Bearer {mint()}')

    assert isinstance(authenticator, Refuser) and 'AUTH_ISSUER' in exc.reason
    assert exc.token_sent is True
    assert any(
        record.levelno == logging.ERROR and 'AUTH_ISSUER' in record.getMessage()
        for record in log_records
    )


def test_not_configured_refusal_still_tells_whether_a_token_was_sent():
    authenticator = build_authenticator(settings_from({'ENVIRONMENT': 'dev'}))

    assert refusal(authenticator, None).token_sent is False


def test_local_stage_without_issuer_accepts_the_development_issuers_tokens(tmp_path):
    from chalicelib.identity.dev_issuer import DevIssuer

    token = DevIssuer(tmp_path).mint(user_id=4, role='staff', now=NOW)

    authenticator = build_authenticator(
        settings_from({'ENVIRONMENT': 'local'}), dev_issuer_dir=tmp_path
    )
    authenticator.clock = lambda: NOW

    assert authenticator.authenticate(f'Bearer {token}').role == 'staff'


def test_configured_issuer_wins_over_the_development_issuer_on_the_local_stage(tmp_path):
    from chalicelib.identity.dev_issuer import DevIssuer

    token = DevIssuer(tmp_path).mint(user_id=4, now=NOW)
    settings = settings_from(
        {
            'ENVIRONMENT': 'local',
            'AUTH_ISSUER': ISSUER,
            'AUTH_AUDIENCE': AUDIENCE,
            'AUTH_JWKS_URL': (tmp_path / 'jwks.json').as_uri(),
        }
    )

    assert (
        'issuer'
        in refusal(build_authenticator(settings, dev_issuer_dir=tmp_path), f'Bearer {token}').reason
    )


def test_empty_audience_setting_refuses_every_token(log_records):
    settings = settings_from({'AUTH_ISSUER': ISSUER, 'AUTH_AUDIENCE': ' , '})

    authenticator = build_authenticator(settings)

    assert 'AUTH_AUDIENCE' in refusal(authenticator, f'Bearer {mint()}').reason
    assert any('AUTH_AUDIENCE' in record.getMessage() for record in log_records)


def test_plain_http_jwks_url_refuses_every_token():
    settings = settings_from({'AUTH_ISSUER': 'http://issuer.example', 'AUTH_AUDIENCE': 'a'})

    assert 'AUTH_JWKS_URL' in refusal(build_authenticator(settings), 'Bearer x').reason


def test_module_authenticate_builds_once_from_the_settings(monkeypatch):
    built = []
    monkeypatch.setattr(
        identity, 'build_authenticator', lambda settings: built.append(settings) or Refuser('test')
    )
    identity.reset()
    try:
        for _ in range(2):
            with pytest.raises(Unauthenticated):
                identity.authenticate('Bearer x')
    finally:
        identity.reset()

    assert len(built) == 1


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_a_token_seen_before_is_not_verified_again_but_still_expires(monkeypatch):
    fetch = CountingFetch(jwks_bytes(jwk(rsa_key('main'), KID)))
    clock = Clock(NOW)
    keys = JwksCache(AUTH.jwks_url, fetch=fetch)
    verified = []
    verify = identity.verify_token
    monkeypatch.setattr(identity, 'verify_token', lambda *args: verified.append(1) or verify(*args))
    authenticator = Authenticator(AUTH, keys=keys, clock=clock)
    header = f'Bearer {mint()}'  # valid from NOW for an hour

    first = authenticator.authenticate(header)
    again = authenticator.authenticate(header)
    clock.now = NOW + 3600 + 61  # past exp and its 60 s of leeway

    assert first == again and len(verified) == 1  # one signature check
    assert 'expired' in refusal(authenticator, header).reason


def test_a_token_seen_before_stops_working_once_its_key_is_withdrawn():
    monotonic = FakeClock()
    fetch = CountingFetch(
        jwks_bytes(jwk(rsa_key('main'), KID)), jwks_bytes(jwk(rsa_key('rotated'), 'key-2'))
    )
    keys = JwksCache(AUTH.jwks_url, fetch=fetch, clock=monotonic)
    authenticator = Authenticator(AUTH, keys=keys, clock=lambda: NOW)
    header = f'Bearer {mint()}'
    authenticator.authenticate(header)

    monotonic.advance(300)  # AUTH_JWKS_MAX_AGE_SECONDS by default

    assert 'no key' in refusal(authenticator, header).reason


def test_a_token_seen_before_still_works_after_a_refresh_that_kept_its_key():
    monotonic = FakeClock()
    fetch = CountingFetch(jwks_bytes(jwk(rsa_key('main'), KID)))
    keys = JwksCache(AUTH.jwks_url, fetch=fetch, clock=monotonic)
    authenticator = Authenticator(AUTH, keys=keys, clock=lambda: NOW)
    header = f'Bearer {mint()}'
    authenticator.authenticate(header)

    monotonic.advance(300)

    assert authenticator.authenticate(header).role == 'customer'
    assert fetch.calls == 2


def test_a_tampered_copy_of_a_token_seen_before_is_still_refused(authenticator):
    token = mint()
    authenticator.authenticate(f'Bearer {token}')
    header, payload, signature = token.split('.')

    refusal(authenticator, f'Bearer {header}.{payload}.{signature[:-4]}AAAA')
