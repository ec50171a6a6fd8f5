import json

import jwt
import pytest

from chalicelib.core.errors import Unauthenticated
from chalicelib.identity.tokens import MAX_TOKEN_CHARS, verify_token
from tests.unit.jwt_support import (
    AUDIENCE,
    ISSUER,
    KID,
    NOW,
    FakeKeys,
    b64,
    claims,
    ec_key,
    forge,
    mint,
    public_pem,
    rsa_key,
)

HEADER = {'alg': 'RS256', 'kid': KID, 'typ': 'JWT'}


def verify(token, audiences=(AUDIENCE,), now=NOW, keys=None):
    keys = keys or FakeKeys(**{KID: rsa_key('main')})
    return verify_token(token, keys.key_for, ISSUER, audiences, now)


def refused(token, **kwargs):
    with pytest.raises(Unauthenticated) as raised:
        verify(token, **kwargs)
    return raised.value.reason


def test_valid_token_gives_its_claims():
    assert verify(mint()) == claims()


def test_expired_token_is_refused():
    assert 'expired' in refused(mint(claims(exp=NOW - 61)))


def test_token_expired_less_than_the_leeway_ago_is_accepted():
    assert verify(mint(claims(exp=NOW - 59)))['exp'] == NOW - 59


def test_token_expiring_exactly_at_the_end_of_the_leeway_is_refused():
    assert 'expired' in refused(mint(claims(exp=NOW - 60)))


def test_token_without_exp_is_refused():
    assert 'no exp' in refused(mint(claims(exp=None)))


@pytest.mark.parametrize('exp', ['1900003600', True, [NOW + 3600]])
def test_exp_that_is_not_a_number_is_refused(exp):
    assert 'not a finite number' in refused(mint(claims(exp=exp)))


def signed_payload_text(text):
    """A token whose payload is `text` as written (numbers JSON itself cannot
    round-trip through Python, such as 1e400)."""
    return forge(HEADER, text.encode())


@pytest.mark.parametrize(
    'name, value', [('exp', '1e400'), ('exp', '-1e400'), ('nbf', '-1e400'), ('iat', '-1e400')]
)
def test_a_time_claim_that_parses_as_an_infinity_is_refused(name, value):
    times = {'exp': NOW + 3600, 'nbf': NOW, 'iat': NOW, name: '@'}
    text = json.dumps(claims(**times)).replace('"@"', value)

    assert 'not a finite number' in refused(signed_payload_text(text))


@pytest.mark.parametrize('name', ['nbf', 'iat'])
def test_nbf_or_iat_as_a_string_is_refused(name):
    assert 'not a finite number' in refused(mint(claims(**{name: str(NOW)})))


BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'


def respelled(segment):
    """The same bytes with the spare bits of the last character set (the
    canonical spelling leaves them 0): 4 spare bits after a lone byte, 2
    after two."""
    spare = {2: 0b1111, 3: 0b11}[len(segment) % 4]
    return segment[:-1] + BASE64URL[BASE64URL.index(segment[-1]) | spare]


def token_with_spare_bits_in(part):
    """A valid token whose segment `part` ends in a character with spare bits."""
    for pad in range(4):
        token = mint(claims(sub='s' * (pad + 1)), headers={'x': 'x' * pad})
        if len(token.split('.')[part]) % 4:
            return token
    raise AssertionError('no padding length gives spare bits')


@pytest.mark.parametrize('part', [0, 1, 2])
def test_a_segment_with_spare_bits_set_is_refused(part):
    segments = token_with_spare_bits_in(part).split('.')
    assert verify('.'.join(segments))
    segments[part] = respelled(segments[part])

    assert 'not canonical base64url' in refused('.'.join(segments))


@pytest.mark.parametrize('part', [0, 1, 2])
def test_a_padded_segment_is_refused(part):
    segments = mint().split('.')
    segments[part] += '=' * (-len(segments[part]) % 4 or 4)

    assert 'base64url' in refused('.'.join(segments))


@pytest.mark.parametrize('aud', [[AUDIENCE, 1], [AUDIENCE, None], [AUDIENCE, ['x']]])
def test_an_audience_list_holding_anything_but_strings_is_refused(aud):
    assert 'audience' in refused(mint(claims(aud=aud)))


def test_nbf_beyond_the_leeway_is_refused():
    assert 'nbf' in refused(mint(claims(nbf=NOW + 61)))


def test_nbf_within_the_leeway_is_accepted():
    assert verify(mint(claims(nbf=NOW + 59)))['nbf'] == NOW + 59


def test_iat_beyond_the_leeway_is_refused():
    assert 'iat' in refused(mint(claims(iat=NOW + 61)))


def test_iat_within_the_leeway_is_accepted():
    assert verify(mint(claims(iat=NOW + 59)))['iat'] == NOW + 59


def test_wrong_issuer_is_refused():
    assert 'issuer' in refused(mint(claims(iss='https://evil.example')))


def test_missing_issuer_is_refused():
    assert 'issuer' in refused(mint(claims(iss=None)))


def test_wrong_audience_is_refused():
    assert 'audience' in refused(mint(claims(aud='another-client')))


def test_audience_list_holding_an_accepted_value_is_accepted():
    assert verify(mint(claims(aud=['other', AUDIENCE])))['aud'] == ['other', AUDIENCE]


def test_any_of_several_accepted_audiences_is_accepted():
    assert verify(mint(claims(aud='web')), audiences=('mobile', 'web'))['aud'] == 'web'


def test_access_token_is_accepted_by_its_client_id():
    access = claims(aud=None, client_id=AUDIENCE, token_use='access')

    assert verify(mint(access))['client_id'] == AUDIENCE


def test_access_token_of_another_client_is_refused():
    assert 'client_id' in refused(mint(claims(aud=None, client_id='another-client')))


def test_aud_decides_when_present_even_beside_an_accepted_client_id():
    assert 'audience' in refused(mint(claims(aud='another', client_id=AUDIENCE)))


def test_token_with_neither_aud_nor_client_id_is_refused():
    assert 'client_id' in refused(mint(claims(aud=None)))


def test_alg_none_is_refused():
    token = jwt.encode(claims(), None, algorithm='none', headers={'kid': KID})

    assert 'algorithm' in refused(token)


def test_alg_none_signed_with_the_right_key_is_still_refused():
    assert 'algorithm' in refused(forge({'alg': 'none', 'kid': KID}, claims()))


def test_hs256_with_the_public_key_pem_as_secret_is_refused():
    # The algorithm-confusion attack: the public key is public, so anyone can
    # HMAC with it; a verifier that let the token pick HS256 would accept.
    token = forge({'alg': 'HS256', 'kid': KID}, claims(), hmac_secret=public_pem(rsa_key('main')))

    assert 'algorithm' in refused(token)


@pytest.mark.parametrize('algorithm', ['RS512', 'PS256', 'HS512'])
def test_algorithms_other_than_rs256_are_refused(algorithm):
    key = b'x' * 64 if algorithm.startswith('HS') else rsa_key('main')

    assert 'algorithm' in refused(mint(key=key, algorithm=algorithm))


def test_es256_is_refused():
    assert 'algorithm' in refused(mint(key=ec_key('attacker'), algorithm='ES256'))


@pytest.mark.parametrize('alg', ['rs256', 'RS256 ', ['RS256'], None])
def test_alg_must_be_exactly_rs256(alg):
    header = {'kid': KID} if alg is None else {'alg': alg, 'kid': KID}

    assert 'algorithm' in refused(forge(header, claims()))


def test_token_signed_by_a_key_outside_the_jwks_is_refused():
    assert 'bad signature' in refused(mint(key=rsa_key('attacker')))


def test_key_embedded_in_the_token_header_is_never_used():
    attacker = rsa_key('attacker')
    embedded = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    token = forge(
        {**HEADER, 'jwk': embedded, 'jku': 'https://evil.example/jwks'}, claims(), key=attacker
    )

    assert 'bad signature' in refused(token)


def test_unknown_kid_is_refused():
    assert 'no key' in refused(mint(kid='not-in-the-jwks'))


def test_token_without_kid_is_refused_without_asking_the_jwks():
    keys = FakeKeys(**{KID: rsa_key('main')})

    assert 'kid' in refused(forge({'alg': 'RS256'}, claims()), keys=keys)
    assert keys.asked == []


def test_tampered_payload_is_refused():
    header, _, signature = mint().split('.')
    token = f'{header}.{b64(claims(**{"custom:user_id": "2"}))}.{signature}'

    assert 'bad signature' in refused(token)


def test_crit_header_is_refused():
    assert 'critical' in refused(forge({**HEADER, 'crit': ['exp']}, claims()))


def test_duplicate_claim_names_are_refused():
    # Parsers differ on which copy wins; the token must not mean two things.
    payload = (
        '{"iss":"%s","aud":"%s","exp":%d,"sub":"a","sub":"b"}' % (ISSUER, AUDIENCE, NOW + 3600)
    ).encode()

    assert 'not JSON' in refused(forge(HEADER, payload))


def test_claims_that_are_not_an_object_are_refused():
    assert 'not a JSON object' in refused(forge(HEADER, ['iss', ISSUER]))


NOT_UTF8 = b64(b'\xff\xfe')
NOT_JSON = b64(b'not json')
NOT_AN_OBJECT = b64(b'[1]')
TRUNCATED = b64(b'{}')[:-2]
DEEPLY_NESTED = b64(b'[' * 5000)


def _valid_parts():
    return mint().split('.')


@pytest.mark.parametrize(
    'make',
    [
        pytest.param(lambda h, p, s: f'{h}.{p}', id='two-parts'),
        pytest.param(lambda h, p, s: f'{h}.{p}.{s}.{s}', id='four-parts'),
        pytest.param(lambda h, p, s: f'{h}.{p}.', id='empty-signature'),
        pytest.param(lambda h, p, s: f'{h}=.{p}.{s}', id='padded-base64'),
        pytest.param(lambda h, p, s: f'{h[:-1]}*.{p}.{s}', id='bad-base64-header'),
        pytest.param(lambda h, p, s: f'{h}.{p[:-1]}+.{s}', id='bad-base64-payload'),
        pytest.param(lambda h, p, s: f'{h}.{p}.{s[:-1]}/', id='standard-base64-signature'),
        pytest.param(lambda h, p, s: f'{NOT_JSON}.{p}.{s}', id='non-json-header'),
        pytest.param(lambda h, p, s: f'{NOT_AN_OBJECT}.{p}.{s}', id='header-not-an-object'),
        pytest.param(lambda h, p, s: f'{TRUNCATED}.{p}.{s}', id='truncated-header'),
        pytest.param(lambda h, p, s: f'{NOT_UTF8}.{p}.{s}', id='header-not-utf8'),
        pytest.param(lambda h, p, s: f'{DEEPLY_NESTED}.{p}.{s}', id='deeply-nested-header'),
        pytest.param(lambda h, p, s: f' {h}.{p}.{s}', id='leading-space'),
        pytest.param(lambda h, p, s: '', id='empty'),
    ],
)
def test_malformed_tokens_are_refused_without_asking_the_jwks(make):
    keys = FakeKeys(**{KID: rsa_key('main')})

    assert 'malformed' in refused(make(*_valid_parts()), keys=keys)
    assert keys.asked == []


def test_huge_token_is_refused_before_it_is_decoded():
    header, payload, signature = _valid_parts()
    huge = f'{header}.{payload + "A" * MAX_TOKEN_CHARS}.{signature}'

    assert 'too long' in refused(huge)


def test_payload_with_nan_is_refused():
    payload = json.dumps(claims(exp=float('nan'))).encode()

    assert 'not JSON' in refused(forge(HEADER, payload))
