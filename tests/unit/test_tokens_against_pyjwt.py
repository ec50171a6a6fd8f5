"""Our token check against PyJWT's, on tokens Hypothesis builds: good ones,
tampered ones, respelled ones and ones with odd claims. Both judge with the
same settings (RS256 and the one key, the issuer, the audience, exp required,
60 s of leeway, the same fixed clock); they must give the same verdict.

Where they differ, ours refuses and PyJWT accepts, and only for what we refuse
on purpose:
- `=` padding on a segment (PyJWT accepts it; the same token would have
  several spellings);
- a time claim written as a string or a boolean (PyJWT takes int("1900000000")
  and int(True); a time is a JSON number);
- a member name twice in the header or payload (PyJWT keeps the last one; two
  parsers may pick different copies);
- NaN or Infinity anywhere in the JSON (not JSON; PyJWT's parser takes them).
Any other difference fails the test, and so does any token we accept and
PyJWT refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import jwt
import jwt.api_jwt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import Unauthenticated
from chalicelib.identity.tokens import LEEWAY, verify_token
from tests.unit.jwt_support import AUDIENCE, ISSUER, KID, NOW, FakeKeys, b64, rsa_key

STRICTER_ON_PURPOSE = {
    'padded',
    'time as string',
    'time as boolean',
    'duplicate member',
    'JSON constant',
}
KEY = rsa_key('main')
HEADER = {'alg': 'RS256', 'kid': KID, 'typ': 'JWT'}
# Times on both sides of every boundary, and far from them.
OFFSETS = [
    -(10**9),
    -3600,
    -LEEWAY - 1,
    -LEEWAY,
    -LEEWAY + 1,
    -1,
    0,
    1,
    LEEWAY - 1,
    LEEWAY,
    LEEWAY + 1,
    3600,
    10**9,
]
# exp mostly in the future, nbf and iat mostly in the past: most tokens are good.
RARELY = st.sampled_from([False] * 14 + [True])
LIKELY = {'exp': [3600, 10**9], 'nbf': [-3600, 0], 'iat': [-3600, 0]}
# Written into the JSON as they are: numbers Python would not write itself.
ODD_NUMBERS = ['1e400', '-1e400', '1e308', '-0', '0.5', '1900000000.0', '1.9e9']
CONSTANTS = ['NaN', 'Infinity', '-Infinity']


class FrozenDatetime(datetime):
    """PyJWT reads its clock from datetime.now: it sees NOW, like ours."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:
        return datetime.fromtimestamp(NOW, tz=UTC)


@st.composite
def time_values(draw: st.DrawFn, name: str) -> tuple[str, set[str]]:
    """(the claim's JSON text, what is odd about it)."""
    if draw(st.booleans()):
        return str(NOW + draw(st.sampled_from(LIKELY[name]))), set()
    kind = draw(
        st.sampled_from(
            ['integer'] * 12 + ['fraction', 'odd', 'constant', 'string', 'boolean', 'null', 'huge']
        )
    )
    if kind == 'integer':
        return str(NOW + draw(st.sampled_from(OFFSETS))), set()
    if kind == 'fraction':
        # Far from a boundary: PyJWT truncates to an int, we compare as sent.
        return str(NOW + draw(st.sampled_from([-3600, 3600])) + 0.25), set()
    if kind == 'odd':
        return draw(st.sampled_from(ODD_NUMBERS)), set()
    if kind == 'constant':
        return draw(st.sampled_from(CONSTANTS)), {'JSON constant'}
    if kind == 'string':
        return json.dumps(str(NOW + draw(st.sampled_from(OFFSETS)))), {'time as string'}
    if kind == 'boolean':
        return draw(st.sampled_from(['true', 'false'])), {'time as boolean'}
    if kind == 'huge':
        return draw(st.sampled_from([str(10**400), str(-(10**400))])), set()
    return 'null', set()


@st.composite
def payloads(draw: st.DrawFn) -> tuple[bytes, set[str]]:
    odd: set[str] = set()
    members = [
        ('iss', json.dumps(draw(st.sampled_from([ISSUER] * 8 + [ISSUER + '/', 'other'])))),
        ('sub', json.dumps('user-sub-1')),
        (
            'aud',
            json.dumps(
                draw(
                    st.sampled_from(
                        [AUDIENCE] * 4
                        + [[AUDIENCE], ['other', AUDIENCE], 'other', [], [AUDIENCE, 1]]
                    )
                )
            ),
        ),
    ]
    for name in ('exp', 'nbf', 'iat'):
        if name == 'exp' or draw(st.booleans()):
            text, why = draw(time_values(name))
            members.append((name, text))
            odd |= why
    if draw(RARELY):
        name, _ = draw(st.sampled_from(members))
        members.append((name, json.dumps('again')))
        odd.add('duplicate member')
    members = draw(st.permutations(members))
    text = '{' + ','.join(f'{json.dumps(name)}:{value}' for name, value in members) + '}'
    return text.encode(), odd


def sign(header: bytes, payload: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    signing_input = f'{b64(header)}.{b64(payload)}'
    return f'{signing_input}.{b64(KEY.sign(signing_input.encode(), PKCS1v15(), SHA256()))}'


BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'


@st.composite
def tokens(draw: st.DrawFn) -> tuple[str, set[str]]:
    payload, odd = draw(payloads())
    header = json.dumps(HEADER).encode()
    if draw(RARELY):
        header = b'{"alg":"RS256","kid":"%s","alg":"RS256"}' % KID.encode()
        odd.add('duplicate member')
    segments = sign(header, payload).split('.')
    change = draw(st.sampled_from(['none'] * 3 + ['tamper', 'spare bits', 'spare bits', 'pad']))
    part = draw(st.integers(0, 2))
    segment = segments[part]
    if change == 'tamper':
        at = draw(st.integers(0, len(segment) - 1))
        replacement = draw(st.sampled_from(BASE64URL.replace(segment[at], '')))
        segments[part] = segment[:at] + replacement + segment[at + 1 :]
    elif change == 'spare bits' and len(segment) % 4:
        spare = {2: 0b1111, 3: 0b11}[len(segment) % 4]
        bits = draw(st.integers(1, spare))
        segments[part] = segment[:-1] + BASE64URL[BASE64URL.index(segment[-1]) | bits]
    elif change == 'pad' and len(segment) % 4:
        segments[part] = segment + '=' * (-len(segment) % 4)
        odd.add('padded')
    return '.'.join(segments), odd


def ours(token: str) -> bool:
    try:
        verify_token(token, FakeKeys(**{KID: KEY}).key_for, ISSUER, (AUDIENCE,), NOW)
    except Unauthenticated:
        return False
    return True


def pyjwt(token: str) -> bool:
    with mock.patch.object(jwt.api_jwt, 'datetime', FrozenDatetime):
        try:
            jwt.decode(
                token,
                KEY.public_key(),
                algorithms=['RS256'],
                issuer=ISSUER,
                audience=AUDIENCE,
                leeway=LEEWAY,
                options={'require': ['exp']},
            )
        except jwt.PyJWTError:
            return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens())
def test_our_verdict_is_pyjwts_or_stricter_on_purpose(built: tuple[str, set[str]]) -> None:
    token, odd = built
    mine, theirs = ours(token), pyjwt(token)

    if mine != theirs:
        assert theirs and not mine, f'we accept what PyJWT refuses: {token}'
        assert odd & STRICTER_ON_PURPOSE, f'we refuse what PyJWT accepts: {token}'


def test_the_frozen_clock_reaches_pyjwt() -> None:
    expired_at_now = sign(
        json.dumps(HEADER).encode(),
        json.dumps({'iss': ISSUER, 'aud': AUDIENCE, 'exp': NOW - LEEWAY}).encode(),
    )
    valid_at_now = sign(
        json.dumps(HEADER).encode(),
        json.dumps({'iss': ISSUER, 'aud': AUDIENCE, 'exp': NOW - LEEWAY + 1}).encode(),
    )

    assert (pyjwt(expired_at_now), pyjwt(valid_at_now)) == (False, True)
