"""The issuer's signing keys (its JWKS), held once per container and found by
`kid`.

Keys are trusted for AUTH_JWKS_MAX_AGE_SECONDS (default 300) after they were
fetched; the next lookup after that fetches the set again, so a key the
issuer withdraws stops working within that time, even for a token the
container has seen before.

An issuer rotates by publishing a new key before it signs with it, so a kid
we have not seen is the signal to fetch the set again. The first unknown kid
always does; after that, at most one such fetch a minute, so that tokens with
made-up kids cannot turn every request into a call to the issuer. The first
load is not a re-fetch and does not count.

A fetch that fails keeps the keys already held (a lookup of a known kid still
works) and is not tried again for 30 s, or 5 s while there are no keys yet:
an issuer that is down must not cost every request a fetch timeout. A lookup
with no keys to answer from is an authentication failure, never a crash."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from chalicelib.core.errors import Unauthenticated
from chalicelib.identity.tokens import RsaPublicKey
from chalicelib.platform.logs import log

REFETCH_INTERVAL = 60.0  # seconds between re-fetches caused by unknown kids
DEFAULT_MAX_AGE = 300.0  # seconds fetched keys are trusted
RETRY_AFTER_FAILURE = 30.0  # seconds after a failed fetch, while keys are held
RETRY_WITHOUT_KEYS = 5.0  # seconds after a failed fetch, while none are held
FETCH_TIMEOUT = 3.0  # seconds; the request waits for it
MAX_JWKS_BYTES = 1 << 20
MIN_RSA_BITS = 2048
_BASE64URL = re.compile(r'[A-Za-z0-9_-]+')


class JwksError(ValueError):
    """The key set could not be fetched or is not a JWKS."""


def fetch_url(
    url: str, timeout: float = FETCH_TIMEOUT, urlopen: Callable[..., Any] | None = None
) -> bytes:
    """The JWKS document's bytes from an https:// or file:/// URL."""
    parts = urlsplit(url)
    if parts.scheme == 'file':
        if parts.netloc not in ('', 'localhost'):
            raise JwksError(f'file URL with a host: {url!r}')
        # What urllib.request.url2pathname does on POSIX, without its import.
        with open(unquote(parts.path), 'rb') as handle:
            return _bounded(handle.read(MAX_JWKS_BYTES + 1))
    if parts.scheme != 'https':
        # Keys fetched in clear text could be swapped on the way.
        raise JwksError(f'JWKS URL must be https:// or file:///, not {parts.scheme!r}')
    # Imported here: urllib.request brings http.client, email.parser and ssl
    # (about 23 ms), which only this fetch, once per container, needs.
    import urllib.request

    request = urllib.request.Request(url, headers={'Accept': 'application/json'})
    with (urlopen or urllib.request.urlopen)(request, timeout=timeout) as response:
        if not response.geturl().startswith('https://'):
            raise JwksError('JWKS request was redirected away from https')
        return _bounded(response.read(MAX_JWKS_BYTES + 1))


def _bounded(data: bytes) -> bytes:
    if len(data) > MAX_JWKS_BYTES:
        raise JwksError(f'JWKS larger than {MAX_JWKS_BYTES} bytes')
    return data


def _b64_uint(value: object) -> int:
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        raise ValueError('not a base64url string')
    try:
        raw = base64.urlsafe_b64decode(value + '=' * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError('not base64url') from exc
    return int.from_bytes(raw, 'big')


def parse_jwks(data: bytes) -> dict[str, RsaPublicKey]:
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
    keys: dict[str, RsaPublicKey] = {}
    for entry in document['keys']:
        if not isinstance(entry, dict):
            continue
        kid = entry.get('kid')
        if (
            not isinstance(kid, str)
            or kid in keys
            or entry.get('kty') != 'RSA'
            or entry.get('use', 'sig') != 'sig'
            or entry.get('alg', 'RS256') != 'RS256'
        ):
            continue
        try:
            modulus, exponent = _b64_uint(entry.get('n')), _b64_uint(entry.get('e'))
            if modulus.bit_length() < MIN_RSA_BITS:
                continue
            keys[kid] = RsaPublicKey(modulus, exponent)
        except ValueError:
            continue
    return keys


class JwksCache:
    """Keys by kid, loaded on first use. `fetch(url) -> bytes` and the
    monotonic `clock` are injectable so tests need no network and no sleep."""

    def __init__(
        self,
        url: str,
        fetch: Callable[[str], bytes] = fetch_url,
        clock: Callable[[], float] = time.monotonic,
        refetch_interval: float = REFETCH_INTERVAL,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        self.url = url
        self._fetch = fetch
        self._clock = clock
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._keys: dict | None = None  # None: never loaded
        self._loaded_at = 0.0  # when the keys held were fetched
        self._failed_at: float | None = None  # when the last fetch failed, if it did
        self._failure = ''  # the class of what made it fail
        self._last_refetch: float | None = None  # when an unknown kid last caused a fetch
        # chalice local serves from threads; Lambda never runs two at once.
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> Any:
        """The RSA public key with this kid, or Unauthenticated."""
        with self._lock:
            if self._keys is None or self._clock() - self._loaded_at >= self._max_age:
                self._try_load()
            if self._keys is None:
                raise Unauthenticated(
                    f'JWKS fetch failed ({self._failure}): no keys to check the token with'
                )
            key = self._keys.get(kid)
            if key is None and self._may_refetch():
                self._last_refetch = self._clock()
                self._try_load()
                key = self._keys.get(kid)
            if key is None:
                raise Unauthenticated(f'no key with kid {kid[:80]!r} in the JWKS')
            return key

    def _may_refetch(self) -> bool:
        return (
            self._last_refetch is None
            or self._clock() - self._last_refetch >= self._refetch_interval
        )

    def _try_load(self) -> None:
        """Fetch the set, unless a fetch failed too recently; a failure keeps
        the keys held."""
        if self._failed_at is not None:
            wait = RETRY_AFTER_FAILURE if self._keys is not None else RETRY_WITHOUT_KEYS
            if self._clock() - self._failed_at < wait:
                return
        try:
            keys = parse_jwks(self._fetch(self.url))
        except Exception as exc:  # any failure to get keys is a 401, never a 500
            self._failed_at = self._clock()
            self._failure = type(exc).__name__
            log.warning(
                'JWKS fetch from %s failed (%s: %s); %s',
                self.url,
                type(exc).__name__,
                exc,
                'keeping the keys held' if self._keys is not None else 'no keys yet',
            )
            return
        log.info('JWKS loaded from %s: %d signing keys', self.url, len(keys))
        held = self._keys or {}
        # A key that did not change keeps its object: tokens verified with it
        # stay trusted (Authenticator compares the objects).
        self._keys = {
            kid: held[kid] if kid in held and _same_key(held[kid], key) else key
            for kid, key in keys.items()
        }
        self._loaded_at = self._clock()
        self._failed_at = None


def _same_key(held: RsaPublicKey, fetched: RsaPublicKey) -> bool:
    return held == fetched
