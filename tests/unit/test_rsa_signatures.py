"""RsaPublicKey.verifies (identity/tokens.py): RS256's RSASSA-PKCS1-v1_5 with
SHA-256, checked without cryptography, gives cryptography's verdict: a
signature of the message with the key passes; the same key's signature of
another message, with another hash or padding, of another length, or
numerically past the modulus does not."""

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.identity.tokens import RsaPublicKey
from tests.unit.jwt_support import rsa_key, rsa_public

KEY = rsa_key('main')
PUBLIC = rsa_public(KEY)


def sign(message, algorithm=None, scheme=None):
    return KEY.sign(message, scheme or padding.PKCS1v15(), algorithm or hashes.SHA256())


@settings(max_examples=50, deadline=None)
@given(message=st.binary(max_size=300), flip=st.integers(min_value=0, max_value=2047))
def test_a_signature_passes_for_its_message_only(message, flip):
    signature = sign(message)
    tampered = int.from_bytes(signature, 'big') ^ (1 << flip)

    assert PUBLIC.verifies(signature, message)
    assert not PUBLIC.verifies(signature, message + b'.')
    assert not PUBLIC.verifies(tampered.to_bytes(len(signature), 'big'), message)


def test_another_keys_signature_is_refused():
    assert not rsa_public(rsa_key('other')).verifies(sign(b'claims'), b'claims')


@pytest.mark.parametrize('algorithm', [hashes.SHA1(), hashes.SHA384(), hashes.SHA512()])
def test_a_signature_with_another_hash_is_refused(algorithm):
    assert not PUBLIC.verifies(sign(b'claims', algorithm), b'claims')


def test_a_pss_signature_is_refused():
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)

    assert not PUBLIC.verifies(sign(b'claims', scheme=pss), b'claims')


def test_a_signature_of_another_length_is_refused():
    signature = sign(b'claims')

    assert not PUBLIC.verifies(signature[1:], b'claims')
    assert not PUBLIC.verifies(b'\0' + signature, b'claims')
    assert not PUBLIC.verifies(b'', b'claims')


def test_a_signature_past_the_modulus_is_refused_though_it_raises_to_the_same_value():
    # s + n gives the same power modulo n: a second spelling of one signature.
    size = len(sign(b''))
    message, aliased = next(
        (message, s + PUBLIC.modulus)
        for message in (str(i).encode() for i in range(100))
        for s in [int.from_bytes(sign(message), 'big')]
        if s + PUBLIC.modulus < 1 << (8 * size)
    )

    assert not PUBLIC.verifies(aliased.to_bytes(size, 'big'), message)
    assert not PUBLIC.verifies(PUBLIC.modulus.to_bytes(size, 'big'), message)


@pytest.mark.parametrize(
    'modulus, exponent',
    [(PUBLIC.modulus, 65536), (PUBLIC.modulus, 1), (PUBLIC.modulus + 1, 65537), (65537, 65537)],
    ids=['even exponent', 'exponent 1', 'even modulus', 'exponent not below the modulus'],
)
def test_numbers_that_cannot_be_an_rsa_public_key_are_refused(modulus, exponent):
    with pytest.raises(ValueError):
        RsaPublicKey(modulus, exponent)


def test_keys_are_equal_by_their_numbers():
    assert rsa_public(KEY) == PUBLIC
    assert rsa_public(rsa_key('other')) != PUBLIC
