import json
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from chalicelib.identity import Authenticator, Principal
from chalicelib.identity.dev_issuer import AUDIENCE, ISSUER, TOKEN_LIFETIME, DevIssuer, main

NOW = 1_900_000_000


@pytest.fixture
def issuer(tmp_path):
    return DevIssuer(tmp_path / 'dev-issuer')


def authenticate(issuer, token, now=NOW + 60):
    return Authenticator(issuer.auth_settings(), clock=lambda: now).authenticate(f'Bearer {token}')


def test_first_use_makes_a_private_key_only_its_owner_can_read(issuer):
    issuer.ensure_keys()

    assert stat.S_IMODE(issuer.private_key_path.stat().st_mode) == 0o600
    assert issuer.jwks_path.exists()


def test_the_key_pair_is_kept_across_uses(issuer):
    first = issuer.mint(user_id=1, now=NOW)

    again = DevIssuer(issuer.directory).mint(user_id=1, now=NOW)

    assert jwt.get_unverified_header(first)['kid'] == jwt.get_unverified_header(again)['kid']


def test_jwks_publishes_the_public_key_only(issuer):
    issuer.ensure_keys()

    [key] = json.loads(issuer.jwks_path.read_text())['keys']
    assert set(key) == {'kty', 'n', 'e', 'kid', 'use', 'alg'}


def test_customer_token_passes_the_services_own_checks(issuer):
    token = issuer.mint(user_id=1, now=NOW)

    assert authenticate(issuer, token) == Principal('dev-customer-1', 'customer', 1, None)


def test_staff_token_is_staff(issuer):
    assert authenticate(issuer, issuer.mint(role='staff', now=NOW)).role == 'staff'


def test_service_token_is_a_client_credentials_token_of_the_service_role(issuer):
    token = issuer.mint(role='service', now=NOW)

    assert 'aud' not in jwt.decode(token, options={'verify_signature': False})
    assert authenticate(issuer, token).role == 'service'


def test_email_is_a_verified_email(issuer):
    token = issuer.mint(user_id=2, email='ada@example.com', now=NOW)

    assert authenticate(issuer, token).email == 'ada@example.com'


def test_token_lasts_twelve_hours(issuer):
    token = issuer.mint(user_id=1, now=NOW)

    assert authenticate(issuer, token, now=NOW + TOKEN_LIFETIME - 1).user_id == 1
    assert TOKEN_LIFETIME == 12 * 3600


def test_tokens_verify_with_pyjwt_against_the_published_jwks(issuer):
    token = issuer.mint(user_id=5, now=NOW)
    [key] = json.loads(issuer.jwks_path.read_text())['keys']

    decoded = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=['RS256'],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={'verify_exp': False, 'verify_iat': False},
    )
    assert decoded['custom:user_id'] == '5'


def test_customer_token_needs_a_user_id(issuer):
    with pytest.raises(ValueError):
        issuer.mint(now=NOW)


def test_main_prints_a_token_for_the_user(tmp_path, capsys):
    assert main(['--user-id', '3', '--email', 'a@example.com', '--dir', str(tmp_path)]) == 0

    claims = jwt.decode(capsys.readouterr().out.strip(), options={'verify_signature': False})
    assert (claims['custom:user_id'], claims['email']) == ('3', 'a@example.com')


def test_main_takes_empty_values_as_not_given(tmp_path, capsys):
    main(['--user-id', '', '--role', 'staff', '--email', '', '--dir', str(tmp_path)])

    claims = jwt.decode(capsys.readouterr().out.strip(), options={'verify_signature': False})
    assert claims['cognito:groups'] == ['staff'] and 'email' not in claims


@pytest.mark.parametrize(
    'argv', [[], ['--user-id', 'x'], ['--user-id', '0'], ['--user-id', '1', '--role', 'admin']]
)
def test_main_refuses_what_makes_no_valid_token(tmp_path, argv):
    with pytest.raises(SystemExit) as exited:
        main([*argv, '--dir', str(tmp_path)])

    assert exited.value.code == 2


def test_main_says_in_words_when_the_key_folder_cannot_be_used(tmp_path, capsys):
    taken = tmp_path / 'a-file'
    taken.write_text('not a folder')

    with pytest.raises(SystemExit) as exited:
        main(['--user-id', '1', '--dir', str(taken)])

    assert exited.value.code == 2
    assert f'cannot keep the keys in {taken}' in capsys.readouterr().err


def test_module_runs_as_a_command_and_prints_one_token(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            '-m',
            'chalicelib.identity.dev_issuer',
            '--role',
            'service',
            '--dir',
            str(tmp_path),
        ],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )

    assert completed.stdout.count('.') == 2 and completed.stderr == ''
