"""The issuer's signing keys (its JWKS), held once per container and found by
`kid`.

An issuer rotates by publishing a new key before it signs with it, so a kid
we have not seen is the signal to fetch the set again. The first unknown kid
always does; after that, at most one such fetch a minute, so that tokens with
made-up kids cannot turn every request into a call to the issuer. The first
load is not a re-fetch and does not count. A fetch that fails is an
authentication failure for the request at hand, never a crash, and a failed
re-fetch keeps the keys already held."""
import base64
import binascii
import json
import re
import threading
import time
import urllib.request
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from chalicelib.errors import Unauthenticated
from chalicelib.logs import log

REFETCH_INTERVAL = 60.0  # seconds between re-fetches caused by unknown kids
FETCH_TIMEOUT = 3.0  # seconds; the request waits for it
MAX_JWKS_BYTES = 1 << 20
MIN_RSA_BITS = 2048
_BASE64URL = re.compile(r'[A-Za-z0-9_-]+')


class JwksError(ValueError):
    """The key set could not be fetched or is not a JWKS."""


def fetch_url(url, timeout=FETCH_TIMEOUT, urlopen=urllib.request.urlopen):
    """The JWKS document's bytes from an https:// or file:/// URL."""
    parts = urlsplit(url)
    if parts.scheme == 'file':
        if parts.netloc not in ('', 'localhost'):
            raise JwksError(f'file URL with a host: {url!r}')
        with open(urllib.request.url2pathname(parts.path), 'rb') as handle:
            return _bounded(handle.read(MAX_JWKS_BYTES + 1))
    if parts.scheme != 'https':
        # Keys fetched in clear text could be swapped on the way.
        raise JwksError(f'JWKS URL must be https:// or file:///, not {parts.scheme!r}')
    request = urllib.request.Request(url, headers={'Accept': 'application/json'})
    with urlopen(request, timeout=timeout) as response:
        if not response.geturl().startswith('https://'):
            raise JwksError('JWKS request was redirected away from https')
        return _bounded(response.read(MAX_JWKS_BYTES + 1))


def _bounded(data):
    if len(data) > MAX_JWKS_BYTES:
        raise JwksError(f'JWKS larger than {MAX_JWKS_BYTES} bytes')
    return data


def _b64_uint(value):
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        raise ValueError('not a base64url string')
    try:
        raw = base64.urlsafe_b64decode(value + '=' * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError('not base64url') from exc
    return int.from_bytes(raw, 'big')


def parse_jwks(data):
    """{kid: RSA public key} for the keys of a JWKS that may verify RS256.

    A key of another type, one meant for encryption, one declared for another
    algorithm, one without a kid, a weak one or a broken one is skipped: it can
    never verify a token here, and one odd entry must not lose the others."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise JwksError(f'JWKS is not JSON: {exc}') from exc
    if not isinstance(document, dict) or not isinstance(document.get('keys'), list):
        raise JwksError('JWKS has no "keys" list')
    keys = {}
    for entry in document['keys']:
        if not isinstance(entry, dict):
            continue
        kid = entry.get('kid')
        if (not isinstance(kid, str) or kid in keys or entry.get('kty') != 'RSA'
                or entry.get('use', 'sig') != 'sig' or entry.get('alg', 'RS256') != 'RS256'):
            continue
        try:
            modulus, exponent = _b64_uint(entry.get('n')), _b64_uint(entry.get('e'))
            if modulus.bit_length() < MIN_RSA_BITS:
                continue
            keys[kid] = RSAPublicNumbers(exponent, modulus).public_key()
        except ValueError:
            continue
    return keys


class JwksCache:
    """Keys by kid, loaded on first use. `fetch(url) -> bytes` and the
    monotonic `clock` are injectable so tests need no network and no sleep."""

    def __init__(self, url, fetch=fetch_url, clock=time.monotonic,
                 refetch_interval=REFETCH_INTERVAL):
        self.url = url
        self._fetch = fetch
        self._clock = clock
        self._refetch_interval = refetch_interval
        self._keys = None  # None: never loaded
        self._last_refetch = None  # when an unknown kid last caused a fetch
        # chalice local serves from threads; Lambda never runs two at once.
        self._lock = threading.Lock()

    def key_for(self, kid):
        """The RSA public key with this kid, or Unauthenticated."""
        with self._lock:
            if self._keys is None:
                self._load()  # a failed first load is tried again next time
            key = self._keys.get(kid)
            if key is None and self._may_refetch():
                self._last_refetch = self._clock()
                try:
                    self._load()
                except Unauthenticated:
                    pass  # the old keys stay; the kid is still unknown
                key = self._keys.get(kid)
            if key is None:
                raise Unauthenticated(f'no key with kid {kid[:80]!r} in the JWKS')
            return key

    def _may_refetch(self):
        return (self._last_refetch is None
                or self._clock() - self._last_refetch >= self._refetch_interval)

    def _load(self):
        try:
            keys = parse_jwks(self._fetch(self.url))
        except Exception as exc:  # any failure to get keys is a 401, never a 500
            log.warning('JWKS fetch from %s failed: %s: %s', self.url,
                        type(exc).__name__, exc)
            raise Unauthenticated(f'JWKS fetch failed: {type(exc).__name__}') from exc
        log.info('JWKS loaded from %s: %d signing keys', self.url, len(keys))
        self._keys = keys
