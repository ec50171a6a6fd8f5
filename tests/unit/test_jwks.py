import io
import json

import pytest

from chalicelib.core.errors import Unauthenticated
from chalicelib.identity.jwks import JwksCache, JwksError, fetch_url, parse_jwks
from tests.unit.jwt_support import (
    KID,
    ROTATED_KID,
    CountingFetch,
    FakeClock,
    ec_key,
    jwk,
    jwks_bytes,
    rsa_key,
    rsa_public,
)

URL = 'https://issuer.example/.well-known/jwks.json'
ONE_KEY = jwks_bytes(jwk(rsa_key('main'), KID))
ROTATED = jwks_bytes(jwk(rsa_key('main'), KID), jwk(rsa_key('rotated'), ROTATED_KID))


def cache(*documents, clock=None):
    fetch = CountingFetch(*documents)
    return JwksCache(URL, fetch=fetch, clock=clock or FakeClock()), fetch


def is_unknown(keys, kid):
    with pytest.raises(Unauthenticated):
        keys.key_for(kid)
    return True


def test_keys_are_loaded_once_and_found_by_kid():
    keys, fetch = cache(ONE_KEY)

    for _ in range(3):
        key = keys.key_for(KID)

    assert key == rsa_public(rsa_key('main'))
    assert fetch.calls == 1


def test_first_unknown_kid_refetches_at_once_even_right_after_the_first_load():
    keys, fetch = cache(ONE_KEY)
    keys.key_for(KID)

    assert is_unknown(keys, 'unknown')
    assert fetch.calls == 2


def test_rotated_key_is_found_after_the_refetch_its_kid_causes():
    keys, fetch = cache(ONE_KEY, ROTATED)
    keys.key_for(KID)

    key = keys.key_for(ROTATED_KID)

    assert key == rsa_public(rsa_key('rotated'))
    assert fetch.calls == 2


def test_second_unknown_kid_within_a_minute_does_not_refetch():
    clock = FakeClock()
    keys, fetch = cache(ONE_KEY, clock=clock)
    is_unknown(keys, 'unknown-1')

    clock.advance(59.9)

    assert is_unknown(keys, 'unknown-2')
    assert fetch.calls == 2  # the first load and the first unknown kid


def test_unknown_kid_a_minute_after_the_last_refetch_refetches_again():
    clock = FakeClock()
    keys, fetch = cache(ONE_KEY, clock=clock)
    is_unknown(keys, 'unknown-1')
    clock.advance(30)
    is_unknown(keys, 'unknown-2')

    clock.advance(30)

    assert is_unknown(keys, 'unknown-3')
    assert fetch.calls == 3


def test_key_rotated_in_during_the_quiet_minute_is_found_once_it_is_over():
    clock = FakeClock()
    keys, _fetch = cache(ONE_KEY, ONE_KEY, ROTATED, clock=clock)
    is_unknown(keys, 'made-up-kid')
    clock.advance(10)
    is_unknown(keys, ROTATED_KID)

    clock.advance(50)

    assert keys.key_for(ROTATED_KID) is not None


def test_failed_first_fetch_is_unauthenticated_not_a_crash():
    keys, _ = cache(OSError('connection refused'))

    with pytest.raises(Unauthenticated) as raised:
        keys.key_for(KID)

    assert 'JWKS fetch failed' in raised.value.reason


def test_failed_first_fetch_is_tried_again_5_seconds_later_not_sooner():
    clock = FakeClock()
    keys, fetch = cache(OSError('timed out'), ONE_KEY, clock=clock)
    is_unknown(keys, KID)
    clock.advance(4.9)
    for _ in range(20):
        is_unknown(keys, 'junk-kid')
    assert fetch.calls == 1

    clock.advance(0.1)

    assert keys.key_for(KID) is not None
    assert fetch.calls == 2


def test_keys_are_fetched_again_once_older_than_their_max_age():
    clock = FakeClock()
    keys, fetch = cache(ROTATED, ONE_KEY, clock=clock)
    keys.key_for(ROTATED_KID)
    clock.advance(299.9)
    keys.key_for(ROTATED_KID)
    assert fetch.calls == 1

    clock.advance(0.1)

    assert is_unknown(keys, ROTATED_KID)  # withdrawn by the issuer
    assert keys.key_for(KID) is not None
    assert fetch.calls == 3  # the refresh, and the one re-fetch its now unknown kid makes


def test_max_age_is_configurable():
    clock = FakeClock()
    fetch = CountingFetch(ONE_KEY)
    keys = JwksCache(URL, fetch=fetch, clock=clock, max_age=10)
    keys.key_for(KID)

    clock.advance(10)
    keys.key_for(KID)

    assert fetch.calls == 2


def test_a_failed_refresh_keeps_the_keys_and_waits_30_seconds():
    clock = FakeClock()
    keys, fetch = cache(ONE_KEY, OSError('issuer down'), ONE_KEY, clock=clock)
    keys.key_for(KID)
    clock.advance(300)
    assert keys.key_for(KID) is not None  # the refresh failed: the key held still works
    assert fetch.calls == 2

    clock.advance(29.9)
    keys.key_for(KID)
    assert fetch.calls == 2

    clock.advance(0.1)
    keys.key_for(KID)
    assert fetch.calls == 3


def test_an_unchanged_key_keeps_its_object_across_a_refresh():
    clock = FakeClock()
    keys, _ = cache(ONE_KEY, ROTATED, clock=clock)
    before = keys.key_for(KID)

    clock.advance(300)

    assert keys.key_for(KID) is before


def test_failed_refetch_keeps_the_keys_already_held():
    keys, _ = cache(ONE_KEY, OSError('issuer down'))
    keys.key_for(KID)

    is_unknown(keys, ROTATED_KID)

    assert keys.key_for(KID) is not None


def test_failed_refetch_counts_against_the_refetch_limit():
    clock = FakeClock()
    keys, fetch = cache(ONE_KEY, OSError('issuer down'), ROTATED, clock=clock)
    is_unknown(keys, ROTATED_KID)
    clock.advance(1)

    assert is_unknown(keys, ROTATED_KID)
    assert fetch.calls == 2


def test_document_that_is_not_a_jwks_is_a_fetch_failure():
    keys, _ = cache(b'<html>Service Unavailable</html>')

    with pytest.raises(Unauthenticated) as raised:
        keys.key_for(KID)

    assert 'JwksError' in raised.value.reason


@pytest.mark.parametrize(
    'entry',
    [
        pytest.param({'use': 'enc'}, id='use-enc'),
        pytest.param({'alg': 'RS512'}, id='alg-rs512'),
        pytest.param({'kty': 'oct', 'k': 'c2VjcmV0'}, id='kty-oct'),
        pytest.param({'n': 'not+base64/'}, id='modulus-not-base64url'),
        pytest.param({'e': 5}, id='exponent-not-a-string'),
        pytest.param({'kid': None}, id='no-kid'),
    ],
)
def test_keys_that_cannot_verify_rs256_are_skipped_and_the_others_kept(entry):
    keys = parse_jwks(
        jwks_bytes(jwk(rsa_key('other'), **{'kid': 'odd', **entry}), jwk(rsa_key('main'), KID))
    )

    assert list(keys) == [KID]


def test_ec_key_is_skipped():
    import jwt

    ec_entry = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key('ec').public_key()))
    ec_entry.update(kid='ec', use='sig')

    assert parse_jwks(jwks_bytes(ec_entry)) == {}


def test_rsa_key_shorter_than_2048_bits_is_skipped():
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)

    assert parse_jwks(jwks_bytes(jwk(weak, 'weak'))) == {}


def test_file_url_is_read_from_disk(tmp_path):
    path = tmp_path / 'jwks.json'
    path.write_bytes(ONE_KEY)

    assert fetch_url(path.as_uri()) == ONE_KEY


def test_plain_http_url_is_refused_without_connecting():
    def urlopen(*args, **kwargs):
        raise AssertionError('no connection may be made')

    with pytest.raises(JwksError):
        fetch_url('http://issuer.example/jwks.json', urlopen=urlopen)


class FakeResponse(io.BytesIO):
    def __init__(self, body, url):
        super().__init__(body)
        self.url = url

    def geturl(self):
        return self.url


def test_https_fetch_uses_a_short_timeout():
    seen = {}

    def urlopen(request, timeout):
        seen.update(url=request.full_url, timeout=timeout)
        return FakeResponse(ONE_KEY, request.full_url)

    assert fetch_url(URL, urlopen=urlopen) == ONE_KEY
    assert seen['url'] == URL and seen['timeout'] <= 5


def test_https_fetch_redirected_to_plain_http_is_refused():
    def urlopen(request, timeout):
        return FakeResponse(ONE_KEY, 'http://elsewhere.example/jwks.json')

    with pytest.raises(JwksError):
        fetch_url(URL, urlopen=urlopen)


def test_oversized_jwks_is_refused():
    def urlopen(request, timeout):
        return FakeResponse(b' ' * (2 << 20), URL)

    with pytest.raises(JwksError):
        fetch_url(URL, urlopen=urlopen)
