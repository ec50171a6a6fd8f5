"""Verify a compact JWT signed with RS256 by a key of the issuer's JWKS.

Written without a JOSE library, and without cryptography: their import
cost the API's cold start more than the whole check does (cryptography's
RSA, its Rust bindings and its first use: about 10 ms), and one algorithm
leaves little to get wrong. The RS256 check is RFC 8017's (8.2.2) as it is
written: the signature raised to the key's exponent must be, byte for byte,
the PKCS #1 v1.5 encoding of the message's SHA-256 that we build ourselves,
so nothing of the signer's bytes is ever parsed (no room for a forged
padding). Everything not RS256 with a JWKS key is refused: `none`, HMAC
(a public key used as a shared secret), any other algorithm, a key carried
in the token itself (`jwk`, `jku`, `x5u` and `x5c` are never read), and
extensions we would have to understand (`crit`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Collection
from typing import Any

from chalicelib.core.errors import Unauthenticated

LEEWAY = 60  # seconds of clock skew allowed on exp, nbf and iat
# API Gateway refuses headers past 10 KiB; a Cognito ID token with many
# groups stays well below this.
MAX_TOKEN_CHARS = 16 * 1024
_SEGMENT = re.compile(r'[A-Za-z0-9_-]+')

# A token's claims (or header): a JSON object, whatever its members hold.
Claims = dict[str, Any]

# DER of the DigestInfo naming SHA-256, which precedes the digest in the
# PKCS #1 v1.5 encoding (RFC 8017, 9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex('3031300d060960864801650304020105000420')


class RsaPublicKey:
    """An RSA public key (modulus n, public exponent e), as a JWKS gives it,
    that checks RS256 signatures. A key whose numbers cannot be an RSA
    public key (an even modulus or exponent, an exponent below 3 or not
    below the modulus) is a ValueError, as cryptography refuses them."""

    __slots__ = ('exponent', 'modulus')

    def __init__(self, modulus: int, exponent: int) -> None:
        if modulus < 3 or modulus % 2 == 0:
            raise ValueError('the modulus of an RSA key is odd and at least 3')
        if exponent < 3 or exponent % 2 == 0 or exponent >= modulus:
            raise ValueError('the exponent of an RSA key is odd, at least 3, below the modulus')
        self.modulus = modulus
        self.exponent = exponent

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RsaPublicKey):
            return NotImplemented
        return (self.modulus, self.exponent) == (other.modulus, other.exponent)

    def __hash__(self) -> int:
        return hash((self.modulus, self.exponent))

    def __repr__(self) -> str:
        return f'<RsaPublicKey of {self.modulus.bit_length()} bits>'

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Whether `signature` is this key's RSASSA-PKCS1-v1_5 signature with
        SHA-256 of `message` (RFC 8017, 8.2.2)."""
        size = (self.modulus.bit_length() + 7) // 8
        if len(signature) != size:
            return False
        signed = int.from_bytes(signature, 'big')
        if signed >= self.modulus:
            return False
        encoded = pow(signed, self.exponent, self.modulus).to_bytes(size, 'big')
        digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        if size < len(digest_info) + 11:
            return False
        expected = b'\x00\x01' + b'\xff' * (size - len(digest_info) - 3) + b'\x00' + digest_info
        return hmac.compare_digest(encoded, expected)


def _b64decode(segment: str, what: str) -> bytes:
    """The bytes of a segment spelled as canonical, unpadded base64url. A
    segment spelled otherwise (`=` padding, spare bits set in its last
    character) decodes to the same bytes as the canonical one: accepting it
    would give every token several spellings, each a new cache entry and a
    way around a deny-list of tokens."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise Unauthenticated(f'malformed token: {what} is not base64url')
    try:
        raw = base64.urlsafe_b64decode(segment + '=' * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Unauthenticated(f'malformed token: {what} is not base64url') from exc
    if base64.urlsafe_b64encode(raw).rstrip(b'=').decode('ascii') != segment:
        raise Unauthenticated(f'malformed token: {what} is not canonical base64url')
    return raw


def _unique_object(pairs: list[tuple[str, Any]]) -> Claims:
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        # Two parsers may pick different copies; refuse rather than guess.
        raise ValueError('duplicate member name')
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f'{name} is not JSON')


def _json_object(raw: bytes, what: str) -> Claims:
    try:
        value = json.loads(
            raw.decode('utf-8'), object_pairs_hook=_unique_object, parse_constant=_refuse_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Unauthenticated(f'malformed token: {what} is not JSON ({exc})') from exc
    if not isinstance(value, dict):
        raise Unauthenticated(f'malformed token: {what} is not a JSON object')
    return value


def _number(claims: Claims, name: str) -> int | float | None:
    """A time claim: a finite JSON number (1e400 parses as infinity, which
    would never expire; a string, true or null is not a number)."""
    if name not in claims:
        return None
    value = claims[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise Unauthenticated(f'claim {name!r} is not a finite number')
    return value


def check_times(claims: Claims, now: float, leeway: float = LEEWAY) -> None:
    exp = _number(claims, 'exp')
    if exp is None:
        raise Unauthenticated('token has no exp')
    if now >= exp + leeway:
        raise Unauthenticated(f'token expired at {exp} (now {now:.0f})')
    for name in ('nbf', 'iat'):
        value = _number(claims, name)
        if value is not None and value > now + leeway:
            raise Unauthenticated(f'token {name} {value} is in the future (now {now:.0f})')


def _check_audience(claims: Claims, audiences: Collection[str]) -> None:
    # An ID token names its audience in aud; a Cognito access token has no
    # aud and names the app client in client_id. When aud is there it decides.
    if 'aud' in claims:
        aud = claims['aud']
        values = aud if isinstance(aud, list) else [aud]
        # A list with anything but strings in it is malformed, whatever else it holds.
        if not all(isinstance(value, str) for value in values) or not any(
            value in audiences for value in values
        ):
            raise Unauthenticated(f'audience {str(aud)[:100]!r} is not accepted')
        return
    client_id = claims.get('client_id')
    if not isinstance(client_id, str) or client_id not in audiences:
        raise Unauthenticated(f'client_id {str(client_id)[:100]!r} is not accepted')


def verify_token(
    token: object,
    key_for: Callable[[str], RsaPublicKey],
    issuer: str,
    audiences: Collection[str],
    now: float,
    leeway: float = LEEWAY,
) -> Claims:
    """The claims of `token`, or Unauthenticated(reason).

    `key_for(kid)` gives the RSA public key of the JWKS with that kid or raises
    Unauthenticated (JwksCache.key_for); `now` is the wall clock in seconds
    since the epoch."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated('malformed token: not a string or too long')
    parts = token.split('.')
    if len(parts) != 3:
        raise Unauthenticated(f'malformed token: {len(parts)} parts, not 3')
    header_b64, payload_b64, signature_b64 = parts
    header = _json_object(_b64decode(header_b64, 'header'), 'header')
    alg = header.get('alg')
    if alg != 'RS256':
        raise Unauthenticated(f'algorithm {str(alg)[:20]!r} is refused: only RS256')
    if 'crit' in header:
        raise Unauthenticated('token has critical header extensions')
    kid = header.get('kid')
    if not isinstance(kid, str) or not kid:
        raise Unauthenticated('token header has no kid')
    # Decoded before the key is looked up: junk must not reach the JWKS,
    # where an unknown kid costs a fetch.
    payload = _b64decode(payload_b64, 'payload')
    signature = _b64decode(signature_b64, 'signature')
    key = key_for(kid)
    if not key.verifies(signature, f'{header_b64}.{payload_b64}'.encode('ascii')):
        raise Unauthenticated(f'bad signature for kid {kid[:80]!r}')
    claims = _json_object(payload, 'payload')
    if claims.get('iss') != issuer:
        raise Unauthenticated(f'issuer {str(claims.get("iss"))[:200]!r} is not the configured one')
    _check_audience(claims, audiences)
    check_times(claims, now, leeway)
    return claims
