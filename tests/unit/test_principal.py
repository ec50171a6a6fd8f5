import dataclasses

import pytest

from chalicelib.core.errors import Unauthenticated
from chalicelib.identity.principal import Principal, principal_from_claims

MAX_ID = 2**63 - 1


def principal(**claims):
    return principal_from_claims({'sub': 'sub-1', **claims})


def unauthenticated(**claims):
    with pytest.raises(Unauthenticated) as raised:
        principal(**claims)
    return raised.value.reason


def test_integer_user_id_makes_a_customer():
    assert principal(**{'custom:user_id': 7}) == Principal('sub-1', 'customer', 7, None)


def test_digit_string_user_id_makes_a_customer():
    assert principal(**{'custom:user_id': '7'}).user_id == 7


@pytest.mark.parametrize('value', [MAX_ID, str(MAX_ID)])
def test_largest_user_id_the_database_holds_is_accepted(value):
    assert principal(**{'custom:user_id': value}).user_id == MAX_ID


@pytest.mark.parametrize(
    'value',
    [
        0,
        -1,
        '0',
        '-1',
        '+1',
        ' 1',
        '1 ',
        '1.5',
        1.5,
        1.0,
        '1e3',
        '',
        '0x1',
        '\u0661',  # ARABIC-INDIC DIGIT ONE: a digit to str.isdigit, not to the shop
        True,
        False,
        None,
        [1],
        {'id': 1},
        MAX_ID + 1,
        str(MAX_ID + 1),
        '9' * 400,
    ],
)
def test_user_id_claim_that_is_not_a_positive_integer_is_unauthenticated(value):
    assert 'custom:user_id' in unauthenticated(**{'custom:user_id': value})


def test_token_with_no_user_id_and_no_role_is_unauthenticated():
    assert 'no role' in unauthenticated(email='a@example.com', email_verified=True)


def test_missing_sub_is_unauthenticated():
    with pytest.raises(Unauthenticated):
        principal_from_claims({'custom:user_id': '1'})


@pytest.mark.parametrize('sub', ['', 'a\x00b', 'line\nbreak', '\ud800', 'x' * 256, 42])
def test_sub_that_cannot_be_stored_is_unauthenticated(sub):
    with pytest.raises(Unauthenticated):
        principal_from_claims({'sub': sub, 'custom:user_id': '1'})


def test_staff_group_makes_staff():
    assert principal(**{'cognito:groups': ['staff']}).role == 'staff'


MACHINE = {'sub': 'app-client-1', 'client_id': 'app-client-1', 'token_use': 'access'}


def machine(**claims):
    return principal_from_claims({**MACHINE, **claims})


def test_admin_scope_of_a_machine_token_makes_staff():
    assert machine(scope='openid orders/admin').role == 'staff'


USER_ACCESS_TOKENS = {
    'a user access token': {
        'sub': 'user-uuid',
        'username': 'ada',
        'client_id': 'app-client-1',
        'token_use': 'access',
    },
    'a username beside a client sub': {**MACHINE, 'username': 'app-client-1'},
    'an id token': {'sub': 'app-client-1', 'aud': 'app-client-1', 'token_use': 'id'},
    'no token_use': {'sub': 'app-client-1', 'client_id': 'app-client-1'},
    'no client_id': {'sub': 'app-client-1', 'token_use': 'access'},
    'sub other than the client': {**MACHINE, 'sub': 'someone'},
}


@pytest.mark.parametrize('scope', ['orders/admin', 'orders/fulfilment'])
@pytest.mark.parametrize('claims', USER_ACCESS_TOKENS.values(), ids=USER_ACCESS_TOKENS.keys())
def test_scopes_grant_no_role_to_a_token_that_is_not_a_machine_token(claims, scope):
    with pytest.raises(Unauthenticated) as raised:
        principal_from_claims({**claims, 'scope': scope})

    assert 'no role' in raised.value.reason


def test_a_user_access_token_with_the_admin_scope_stays_a_customer():
    claims = {
        **USER_ACCESS_TOKENS['a user access token'],
        'scope': 'orders/admin',
        'custom:user_id': '7',
    }

    assert principal_from_claims(claims).role == 'customer'


def test_configured_staff_group_replaces_the_default():
    claims = {'sub': 's', 'cognito:groups': ['staff'], 'custom:user_id': '1'}

    assert principal_from_claims(claims, staff_group='ops').role == 'customer'
    assert (
        principal_from_claims({**claims, 'cognito:groups': ['ops']}, staff_group='ops').role
        == 'staff'
    )


def test_groups_that_are_not_a_list_give_no_role():
    assert 'no role' in unauthenticated(**{'cognito:groups': 'staff'})


def test_fulfilment_scope_of_a_machine_token_makes_a_service():
    assert machine(scope='orders/fulfilment') == Principal('app-client-1', 'service', None, None)


def test_scopes_match_whole_words_only():
    with pytest.raises(Unauthenticated) as raised:
        machine(scope='orders/admins xorders/fulfilment')

    assert 'no role' in raised.value.reason


def test_staff_wins_over_service_when_a_token_has_both():
    assert machine(scope='orders/fulfilment orders/admin').role == 'staff'


def test_staff_keeps_a_valid_user_id():
    assert principal(**{'cognito:groups': ['staff'], 'custom:user_id': '3'}).user_id == 3


def test_staff_with_an_invalid_user_id_is_unauthenticated():
    assert 'custom:user_id' in unauthenticated(
        **{'cognito:groups': ['staff'], 'custom:user_id': 'abc'}
    )


def test_configured_user_id_claim_is_read():
    claims = {'sub': 's', 'custom:shop_id': '9', 'custom:user_id': '1'}

    assert principal_from_claims(claims, user_id_claim='custom:shop_id').user_id == 9


@pytest.mark.parametrize('verified', [True, 'true'])
def test_verified_email_is_kept(verified):
    assert (
        principal(
            **{'custom:user_id': 1, 'email': 'ada@example.com', 'email_verified': verified}
        ).email
        == 'ada@example.com'
    )


@pytest.mark.parametrize('verified', [False, 'false', 'True', 1, None])
def test_email_not_verified_as_true_is_dropped(verified):
    claims = {'custom:user_id': 1, 'email': 'ada@example.com', 'email_verified': verified}

    assert principal(**claims).email is None


def test_principal_cannot_be_changed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal(**{'custom:user_id': 1}).role = 'staff'
