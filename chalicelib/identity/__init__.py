"""Who is calling: the bearer token checked, and the principal it names.

    principal = identity.authenticate(request.headers.get('authorization'))

`authenticate` returns a Principal or raises Unauthenticated (a 401). Its
`reason` is for the log; `challenge(exc)` is the WWW-Authenticate value to
answer with, which depends on whether a token was sent at all.

Where the keys come from is decided once per container, on first use:
- AUTH_ISSUER set: tokens of that issuer, keys from AUTH_JWKS_URL;
- no AUTH_ISSUER on the local stage: the development issuer (dev_issuer.py);
- no AUTH_ISSUER anywhere else: every request is refused and the log says
  why, so a deployment that forgot its settings never runs open."""

import time
from collections.abc import Callable
from typing import Any, NoReturn

from chalicelib.core.errors import Unauthenticated
from chalicelib.identity.jwks import JwksCache
from chalicelib.identity.principal import (
    CUSTOMER,
    ROLES,
    SERVICE,
    STAFF,
    Principal,
    principal_from_claims,
)
from chalicelib.identity.tokens import Claims, check_times, verify_token
from chalicelib.platform.config import AuthSettings, Settings, get_settings
from chalicelib.platform.logs import log

__all__ = [
    'CUSTOMER',
    'ROLES',
    'SERVICE',
    'STAFF',
    'Authenticator',
    'Principal',
    'Refuser',
    'Unauthenticated',
    'authenticate',
    'bearer_token',
    'build_authenticator',
    'challenge',
    'reset',
]

LOCAL_STAGE = 'local'
# A container sees the same token request after request (one client, one
# session): its signature, issuer and audience are checked once, its times
# and its key on every use (a key withdrawn from the JWKS ends it). Bounded:
# past this many, it starts afresh.
VERIFIED_TOKENS = 256


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value.

    No header, or another scheme (Basic, ...), is Unauthenticated with
    token_sent False; a Bearer header with nothing after it has token_sent
    True (a token was meant, and it is malformed)."""
    if authorization is None or not authorization.strip():
        raise Unauthenticated('no Authorization header', token_sent=False)
    scheme, _, token = authorization.strip().partition(' ')
    if scheme.lower() != 'bearer':
        # The scheme only: whatever follows may be a password.
        raise Unauthenticated(
            f'Authorization scheme {scheme[:20]!r} is not Bearer', token_sent=False
        )
    token = token.strip()
    if not token:
        raise Unauthenticated('empty bearer token')
    return token


def _token_sent(authorization: str | None) -> bool:
    try:
        bearer_token(authorization)
    except Unauthenticated as exc:
        return exc.token_sent
    return True


def challenge(exc: Unauthenticated) -> str:
    """The WWW-Authenticate header value for an Unauthenticated (RFC 6750)."""
    return 'Bearer error="invalid_token"' if exc.token_sent else 'Bearer'


class Authenticator:
    """Checks bearer tokens against one issuer. `keys` has key_for(kid)
    (a JwksCache); `clock` is the wall clock, in seconds since the epoch."""

    def __init__(
        self, settings: AuthSettings, keys: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.keys = (
            keys
            if keys is not None
            else JwksCache(settings.jwks_url, max_age=settings.jwks_max_age)
        )
        self.clock = clock
        self._verified: dict[str, tuple[Claims, Principal, str, Any]] = {}  # kid, key last

    def authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        now = self.clock()
        known = self._verified.get(token)
        if known is not None:
            claims, principal, kid, key = known
            if self.keys.key_for(kid) is key:
                check_times(claims, now)
                return principal
            del self._verified[token]  # its key changed: check it afresh
        used = []

        def key_for(kid: str) -> Any:
            key = self.keys.key_for(kid)
            used.append((kid, key))
            return key

        claims = verify_token(token, key_for, self.settings.issuer, self.settings.audiences, now)
        principal = principal_from_claims(
            claims, self.settings.user_id_claim, self.settings.staff_group
        )
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (claims, principal, *used[-1])
        return principal


class Refuser:
    """Stands in for an Authenticator that cannot work: refuses everything."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def authenticate(self, authorization: str | None) -> NoReturn:
        raise Unauthenticated(self.reason, token_sent=_token_sent(authorization))


def _misconfiguration(auth: AuthSettings) -> str | None:
    if not auth.audiences:
        return 'AUTH_AUDIENCE is empty: no token can be accepted'
    if not auth.jwks_url.startswith(('https://', 'file:///', 'file://localhost/')):
        return 'AUTH_JWKS_URL must be https:// or file:///'
    return None


def build_authenticator(
    settings: Settings, dev_issuer_dir: str | None = None
) -> Authenticator | Refuser:
    """The Authenticator these settings call for, or a Refuser saying why none
    can work. `dev_issuer_dir` is where the local stage keeps its dev keys."""
    auth = settings.auth
    if auth is None:
        if settings.environment != LOCAL_STAGE:
            reason = (
                'authentication is not configured (AUTH_ISSUER is unset): '
                'every protected request is refused'
            )
            log.error(reason)
            return Refuser(reason)
        # Imported here: only the local stage ever pays for it.
        from chalicelib.identity.dev_issuer import DEFAULT_DIR, DevIssuer

        auth = DevIssuer(dev_issuer_dir or DEFAULT_DIR).auth_settings()
        log.info(
            'No AUTH_ISSUER on the local stage: accepting tokens of the '
            'development issuer, keys at %s',
            auth.jwks_url,
        )
    problem = _misconfiguration(auth)
    if problem:
        log.error('Authentication misconfigured, every protected request is refused: %s', problem)
        return Refuser(problem)
    return Authenticator(auth)


_authenticator: Authenticator | Refuser | None = None


def authenticate(authorization: str | None) -> Principal:
    """The Principal of an Authorization header value, or Unauthenticated.
    Built from get_settings() on first use and kept for the container."""
    global _authenticator
    if _authenticator is None:
        _authenticator = build_authenticator(get_settings())
    return _authenticator.authenticate(authorization)


def reset() -> None:
    """Forget the authenticator and its keys (tests change the environment)."""
    global _authenticator
    _authenticator = None
