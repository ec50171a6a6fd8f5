"""Keys, key sets and tokens made in the tests: PyJWT mints the ordinary
tokens (so the service is proven against a standard implementation), and
`forge` builds the hostile ones PyJWT refuses to make."""

import base64
import functools
import hashlib
import hmac
import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST'
AUDIENCE = 'app-client-1'
NOW = 1_900_000_000  # a fixed wall clock: no test depends on the real one
KID = 'key-1'
ROTATED_KID = 'key-2'


@functools.cache
def rsa_key(name):
    """One RSA 2048 private key per name, made once per test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ec_key(name):
    return ec.generate_private_key(ec.SECP256R1())


def jwk(private_key, kid=KID, **extra):
    entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    entry.update(kid=kid, use='sig', alg='RS256')
    entry.update(extra)
    return {name: value for name, value in entry.items() if value is not None}


def jwks_bytes(*entries):
    return json.dumps({'keys': list(entries)}).encode()


def public_pem(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def claims(**overrides):
    """Claims of a valid customer ID token at NOW; None drops a claim."""
    base = {
        'iss': ISSUER,
        'aud': AUDIENCE,
        'sub': 'user-sub-1',
        'token_use': 'id',
        'iat': NOW,
        'exp': NOW + 3600,
        'custom:user_id': '1',
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def mint(payload=None, key=None, kid=KID, algorithm='RS256', headers=None):
    """A token signed by PyJWT (default: the JWKS key, RS256, valid claims)."""
    return jwt.encode(
        claims() if payload is None else payload,
        rsa_key('main') if key is None else key,
        algorithm=algorithm,
        headers={'kid': kid, **(headers or {})},
    )


def b64(data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(',', ':')).encode()
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def forge(header, payload, key=None, hmac_secret=None):
    """A token with any header and payload (dicts, or bytes taken as they
    are), signed RS256 with `key` (default: the JWKS key), or HS256 with
    `hmac_secret` when one is given."""
    signing_input = f'{b64(header)}.{b64(payload)}'.encode()
    if hmac_secret is not None:
        signature = hmac.new(hmac_secret, signing_input, hashlib.sha256).digest()
    else:
        signature = (rsa_key('main') if key is None else key).sign(
            signing_input, PKCS1v15(), SHA256()
        )
    return f'{signing_input.decode()}.{b64(signature)}'


def rsa_public(private_key):
    """The service's RsaPublicKey of a cryptography RSA private key."""
    from chalicelib.identity.tokens import RsaPublicKey

    numbers = private_key.public_key().public_numbers()
    return RsaPublicKey(numbers.n, numbers.e)


class FakeKeys:
    """key_for(kid) over fixed keys, recording the kids asked for."""

    def __init__(self, **keys_by_kid):
        self.keys = {kid: rsa_public(key) for kid, key in keys_by_kid.items()}
        self.asked = []

    def key_for(self, kid):
        from chalicelib.core.errors import Unauthenticated

        self.asked.append(kid)
        if kid not in self.keys:
            raise Unauthenticated(f'no key {kid!r}')
        return self.keys[kid]


class CountingFetch:
    """A JWKS fetch that serves `documents` in turn (the last one again once
    they run out); an Exception in the list is raised instead."""

    def __init__(self, *documents):
        self.documents = list(documents)
        self.calls = 0

    def __call__(self, url):
        document = self.documents[min(self.calls, len(self.documents) - 1)]
        self.calls += 1
        if isinstance(document, Exception):
            raise document
        return document


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds
