"""An Idempotency-Key is scoped to the principal that sent it."""

from chalicelib.identity import Principal
from chalicelib.orders.idempotency import scoped_key

ADA = Principal('sub-ada', 'customer', user_id=1, email='ada@example.com')
UNVERIFIED = Principal('sub-bob', 'customer', user_id=2, email=None)


def test_same_key_from_two_principals_is_two_keys():
    assert scoped_key(ADA, 'k-1') != scoped_key(UNVERIFIED, 'k-1')


def test_same_key_from_the_same_principal_is_the_same_key():
    assert scoped_key(ADA, 'k-1') == scoped_key(ADA, 'k-1')


def test_scoped_key_is_64_hex_characters_whatever_the_lengths():
    long_sub = Principal('s' * 255, 'customer', user_id=1)

    scoped = scoped_key(long_sub, '~' * 255)

    assert len(scoped) == 64 and int(scoped, 16) >= 0


def test_sub_and_key_cannot_be_shifted_into_each_other():
    assert scoped_key(Principal('ab', 'service'), 'c') != scoped_key(
        Principal('a', 'service'), 'bc'
    )
