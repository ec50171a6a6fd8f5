"""Path ids and If-Match, as every resource of the API reads them."""

import pytest

from chalicelib.api.http import expected_version, path_id
from chalicelib.core.errors import InvalidInput, VersionMismatch
from chalicelib.core.ids import MAX_ID


def test_the_largest_id_is_what_a_bigint_column_holds():
    # Every test takes the limit from the service; this pins it to the contract's 2^63 - 1.
    assert MAX_ID == 2**63 - 1


@pytest.mark.parametrize('value', ['1', '42', str(MAX_ID)])
def test_path_id_accepts_positive_integers_up_to_2_63_minus_1(value):
    assert path_id(value) == int(value)


@pytest.mark.parametrize(
    'value', ['abc', '0', '-1', '1.5', str(MAX_ID + 1), '', ' 1', '1e3', '+1', str(10**30)]
)
def test_path_id_refuses_anything_but_a_positive_integer(value):
    with pytest.raises(InvalidInput) as raised:
        path_id(value)

    assert set(raised.value.errors) == {'order_id'}


def test_path_id_errors_are_keyed_by_the_given_name():
    with pytest.raises(InvalidInput) as raised:
        path_id('abc', 'user_id')

    assert set(raised.value.errors) == {'user_id'}
    assert 'user_id' in str(raised.value)


def test_path_id_errors_say_what_marshmallow_said():
    with pytest.raises(InvalidInput) as not_a_number:
        path_id('abc')
    with pytest.raises(InvalidInput) as too_large:
        path_id(str(MAX_ID + 1))

    assert not_a_number.value.errors == {'order_id': ['Not a valid integer.']}
    assert too_large.value.errors == {
        'order_id': [
            'Must be greater than or equal to 1 and less than or equal to 9223372036854775807.'
        ]
    }


def test_if_match_names_the_resource_it_expects_a_tag_of():
    with pytest.raises(InvalidInput) as raised:
        expected_version({'if-match': 'nonsense'}, resource='product')

    assert raised.value.errors == {'If-Match': ['Must be an ETag of this product, such as "1".']}


def test_if_match_with_a_weak_tag_never_matches():
    with pytest.raises(VersionMismatch):
        expected_version({'if-match': 'W/"1"'})


def test_if_match_absent_or_star_expects_no_version_and_a_strong_tag_its_number():
    assert expected_version({}) is None
    assert expected_version({'if-match': ' * '}) is None
    assert expected_version({'if-match': '"7"'}) == 7
