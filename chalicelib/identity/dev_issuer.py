"""A token issuer for local development: an RSA key pair of its own under
.data/dev-issuer/, its public JWKS beside it, and tokens shaped like
Cognito's, so `chalice local` checks them exactly as the service checks real
ones in AWS (nothing is skipped on the local stage, only the issuer differs).

    python -m chalicelib.identity.dev_issuer --user-id 1 [--email ada@example.com]
    python -m chalicelib.identity.dev_issuer --role staff
    python -m chalicelib.identity.dev_issuer --role service

The private key never leaves the directory (mode 0600). Never configure this
issuer in AWS: anyone with the repository can make its keys."""

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from chalicelib.identity.principal import (
    CUSTOMER,
    FULFILMENT_SCOPE,
    ROLES,
    SERVICE,
    STAFF,
    parse_user_id,
)
from chalicelib.platform.config import DEFAULT_STAFF_GROUP, DEFAULT_USER_ID_CLAIM, AuthSettings

DEFAULT_DIR = '.data/dev-issuer'
ISSUER = 'http://localhost/dev-issuer'
AUDIENCE = 'orders-local'
TOKEN_LIFETIME = 12 * 3600  # seconds: a working day without minting again
PRIVATE_KEY_FILE = 'private-key.pem'
JWKS_FILE = 'jwks.json'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def _uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, 'big'))


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    members = {'e': _uint(numbers.e), 'kty': 'RSA', 'n': _uint(numbers.n)}
    # The RFC 7638 thumbprint: the same key always gets the same kid.
    kid = _b64(
        hashlib.sha256(json.dumps(members, separators=(',', ':'), sort_keys=True).encode()).digest()
    )
    return {**members, 'kid': kid, 'use': 'sig', 'alg': 'RS256'}


class DevIssuer:
    def __init__(self, directory: str | os.PathLike[str] = DEFAULT_DIR) -> None:
        self.directory = Path(directory)
        self._private_key: rsa.RSAPrivateKey | None = None
        self._jwk: dict[str, str] | None = None

    @property
    def private_key_path(self) -> Path:
        return self.directory / PRIVATE_KEY_FILE

    @property
    def jwks_path(self) -> Path:
        return self.directory / JWKS_FILE

    def auth_settings(
        self, user_id_claim: str = DEFAULT_USER_ID_CLAIM, staff_group: str = DEFAULT_STAFF_GROUP
    ) -> AuthSettings:
        """What the service checks tokens of this issuer against."""
        self.ensure_keys()
        return AuthSettings(
            issuer=ISSUER,
            audiences=(AUDIENCE,),
            jwks_url=self.jwks_path.resolve().as_uri(),
            user_id_claim=user_id_claim,
            staff_group=staff_group,
        )

    def ensure_keys(self) -> None:
        """Load the key pair, making it on first use; (re)write the JWKS."""
        if self._private_key is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.private_key_path.exists():
            self._create_private_key()
        # An RSA key: this issuer wrote it.
        self._private_key = cast(
            rsa.RSAPrivateKey,
            serialization.load_pem_private_key(self.private_key_path.read_bytes(), password=None),
        )
        self._jwk = public_jwk(self._private_key.public_key())
        temporary = self.jwks_path.with_name(f'.{JWKS_FILE}.{os.getpid()}')
        temporary.write_text(json.dumps({'keys': [self._jwk]}, indent=2) + '\n')
        os.replace(temporary, self.jwks_path)

    def _create_private_key(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written whole under a temporary name, then linked into place: a
        # second process (make run beside make token) sees no key or a whole
        # one, and the first link wins.
        temporary = self.private_key_path.with_name(f'.{PRIVATE_KEY_FILE}.{os.getpid()}')
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, 'wb') as handle:
                handle.write(pem)
            os.link(temporary, self.private_key_path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)

    def claims(
        self,
        user_id: int | str | None = None,
        role: str = CUSTOMER,
        email: str | None = None,
        now: float | None = None,
        lifetime: int = TOKEN_LIFETIME,
        user_id_claim: str = DEFAULT_USER_ID_CLAIM,
        staff_group: str = DEFAULT_STAFF_GROUP,
    ) -> dict[str, Any]:
        """The claims of a token for a customer (needs user_id), staff or service."""
        if role not in ROLES:
            raise ValueError(f'role must be one of {", ".join(ROLES)}')
        if user_id is not None and parse_user_id(user_id) is None:
            raise ValueError('user_id must be a positive integer')
        if role == CUSTOMER and user_id is None:
            raise ValueError('a customer token needs a user_id')
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {'iss': ISSUER, 'iat': issued, 'exp': issued + lifetime}
        if role == SERVICE:
            # A client-credentials access token: no aud, no username, the app
            # client in client_id and as the subject.
            claims.update(
                sub=AUDIENCE, client_id=AUDIENCE, token_use='access', scope=FULFILMENT_SCOPE
            )
        else:
            claims.update(
                sub=f'dev-{role}-{user_id if user_id is not None else "0"}',
                aud=AUDIENCE,
                token_use='id',
            )
            if role == STAFF:
                claims['cognito:groups'] = [staff_group]
        if user_id is not None:
            claims[user_id_claim] = str(user_id)  # as Cognito sends custom attributes
        if email:
            claims.update(email=email, email_verified=True)
        return claims

    def mint(self, **claims_arguments: Any) -> str:
        """A signed token; takes the arguments of claims()."""
        return self.sign(self.claims(**claims_arguments))

    def sign(self, claims: dict[str, Any]) -> str:
        self.ensure_keys()
        assert self._private_key is not None and self._jwk is not None  # ensure_keys set them
        header = {'alg': 'RS256', 'kid': self._jwk['kid'], 'typ': 'JWT'}
        signing_input = '.'.join(
            _b64(json.dumps(part, separators=(',', ':')).encode()) for part in (header, claims)
        )
        signature = self._private_key.sign(signing_input.encode('ascii'), PKCS1v15(), SHA256())
        return f'{signing_input}.{_b64(signature)}'


def main(argv: Sequence[str] | None = None) -> int:
    """Print a token of the development issuer. Empty values count as not
    given, so a Makefile can pass USER_ID= ROLE= EMAIL= through unset."""
    parser = argparse.ArgumentParser(
        prog='python -m chalicelib.identity.dev_issuer',
        description='Print a bearer token of the local development issuer.',
    )
    parser.add_argument('--user-id', default='', help='the shop user id (needed for a customer)')
    parser.add_argument('--role', default='', help='customer (default), staff or service')
    parser.add_argument('--email', default='', help='a verified email for the token')
    parser.add_argument('--dir', default=DEFAULT_DIR, help=f'key directory (default {DEFAULT_DIR})')
    args = parser.parse_args(argv)
    user_id = None
    if args.user_id.strip():
        user_id = parse_user_id(args.user_id.strip())
        if user_id is None:
            parser.error('--user-id must be a positive integer')
    try:
        token = DevIssuer(args.dir).mint(
            user_id=user_id, role=args.role.strip() or CUSTOMER, email=args.email.strip() or None
        )
    except ValueError as exc:
        parser.error(str(exc))
    except OSError as exc:
        # The keys live there: a path that is a file, or a folder we may not write.
        parser.error(f'cannot keep the keys in {args.dir}: {exc.strerror or exc}')
    print(token)
    return 0


if __name__ == '__main__':
    sys.exit(main())
