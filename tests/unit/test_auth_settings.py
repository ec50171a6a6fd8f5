import pytest

from chalicelib.core.errors import Forbidden, Unauthenticated
from chalicelib.platform.config import ConfigError, settings_from

ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc'


def test_no_auth_issuer_means_authentication_is_not_configured():
    assert settings_from({'AUTH_AUDIENCE': 'client'}).auth is None


def test_jwks_url_defaults_to_the_issuers_well_known_path():
    auth = settings_from({'AUTH_ISSUER': ISSUER, 'AUTH_AUDIENCE': 'client'}).auth

    assert auth.jwks_url == ISSUER + '/.well-known/jwks.json'


def test_audiences_are_comma_separated_and_trimmed():
    auth = settings_from({'AUTH_ISSUER': ISSUER, 'AUTH_AUDIENCE': ' a, b ,,c '}).auth

    assert auth.audiences == ('a', 'b', 'c')


def test_user_id_claim_and_staff_group_have_defaults():
    auth = settings_from({'AUTH_ISSUER': ISSUER, 'AUTH_AUDIENCE': 'a'}).auth

    assert (auth.user_id_claim, auth.staff_group) == ('custom:user_id', 'staff')


def test_every_auth_setting_can_be_overridden():
    auth = settings_from(
        {
            'AUTH_ISSUER': ISSUER,
            'AUTH_AUDIENCE': 'a',
            'AUTH_JWKS_URL': 'file:///etc/orders/jwks.json',
            'AUTH_USER_ID_CLAIM': 'custom:shop_id',
            'AUTH_STAFF_GROUP': 'ops',
        }
    ).auth

    assert (auth.issuer, auth.jwks_url, auth.user_id_claim, auth.staff_group) == (
        ISSUER,
        'file:///etc/orders/jwks.json',
        'custom:shop_id',
        'ops',
    )


def test_jwks_max_age_defaults_to_300_seconds_and_can_be_set():
    base = {'AUTH_ISSUER': ISSUER, 'AUTH_AUDIENCE': 'a'}

    assert settings_from(base).auth.jwks_max_age == 300
    assert settings_from({**base, 'AUTH_JWKS_MAX_AGE_SECONDS': '60'}).auth.jwks_max_age == 60


@pytest.mark.parametrize('value', ['0', '-5', '1.5', 'five'])
def test_jwks_max_age_that_is_not_a_positive_whole_number_is_a_config_error(value):
    with pytest.raises(ConfigError, match='AUTH_JWKS_MAX_AGE_SECONDS'):
        settings_from(
            {'AUTH_ISSUER': ISSUER, 'AUTH_AUDIENCE': 'a', 'AUTH_JWKS_MAX_AGE_SECONDS': value}
        )


def test_unauthenticated_tells_the_client_nothing_of_the_reason():
    exc = Unauthenticated('bad signature for kid k1')

    assert 'signature' not in str(exc) and exc.reason == 'bad signature for kid k1'


def test_unauthenticated_without_a_token_says_one_is_required():
    exc = Unauthenticated('no Authorization header', token_sent=False)

    assert (str(exc), exc.token_sent) == ('A valid bearer token is required', False)


def test_forbidden_carries_its_message():
    assert str(Forbidden('A customer may only cancel an order')) == (
        'A customer may only cancel an order'
    )
