from datetime import timedelta

import pytest

from chalicelib.platform.config import (
    DEFAULT_RETURN_INSTRUCTIONS,
    PACKAGE_ROOT,
    ConfigError,
    parse_database_url,
    settings_from,
)


def test_default_is_sqlite_under_data_with_auto_migrate():
    settings = settings_from({})

    assert settings.database.engine == 'sqlite'
    assert settings.database.path == '.data/orders.sqlite3'
    assert settings.auto_migrate is True
    assert settings.sns_topic_arn is None
    assert (settings.log_level, settings.aws_region) == ('INFO', 'us-east-1')
    assert (settings.notify_queue, settings.notify_dlq) == (
        'orders-notifications',
        'orders-notifications-dlq',
    )


@pytest.mark.parametrize(
    'url, path',
    [
        ('sqlite:///relative/orders.db', 'relative/orders.db'),
        ('sqlite:////absolute/orders.db', '/absolute/orders.db'),
    ],
)
def test_sqlite_urls_keep_relative_and_absolute_paths(url, path):
    assert parse_database_url(url).path == path


def test_mysql_url_gives_every_part_with_escapes_decoded():
    db = parse_database_url('mysql://app:p%40ss@db.example.com:3307/shop')

    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        'mysql',
        'db.example.com',
        3307,
        'shop',
        'app',
        'p@ss',
    )


def test_database_url_wins_over_db_host():
    settings = settings_from({'DATABASE_URL': 'sqlite:///x.db', 'DB_HOST': 'db'})

    assert settings.database.engine == 'sqlite'


def test_db_host_settings_default_port_and_name_and_no_auto_migrate():
    settings = settings_from({'DB_HOST': 'db', 'DB_USER': 'u', 'DB_SECRET_ARN': 'arn:x'})

    assert (settings.database.port, settings.database.name) == (3306, 'orders')
    assert settings.database.secret_arn == 'arn:x'
    assert settings.auto_migrate is False


@pytest.mark.parametrize('url', ['postgres://h/db', 'sqlite://', 'mysql://host-only'])
def test_unsupported_or_incomplete_urls_are_refused(url):
    with pytest.raises(ConfigError):
        parse_database_url(url)


def test_password_never_appears_in_the_settings_repr():
    settings = settings_from({'DATABASE_URL': 'mysql://app:s3cret@db:3306/shop'})

    assert 's3cret' not in repr(settings)
    assert 's3cret' not in repr(settings.database)


def test_auto_migrate_can_be_switched_either_way():
    assert settings_from({'AUTO_MIGRATE': 'false'}).auto_migrate is False
    assert settings_from({'DB_HOST': 'db', 'AUTO_MIGRATE': '1'}).auto_migrate is True


def test_tls_and_iam_auth_are_off_unless_asked_for_on_the_local_stage():
    database = settings_from(
        {'ENVIRONMENT': 'local', 'DB_HOST': 'db', 'DB_USER': 'u', 'DB_PASSWORD': 'p'}
    ).database

    assert (database.ssl_ca, database.iam_auth, database.refusal) == ('', False, '')


@pytest.mark.parametrize('stage', [{}, {'ENVIRONMENT': 'dev'}, {'ENVIRONMENT': 'prod'}])
def test_a_deployed_stage_reaching_db_host_without_db_ssl_ca_is_refused(stage):
    database = settings_from({**stage, 'DB_HOST': 'db', 'DB_PASSWORD': 'p'}).database

    assert 'without DB_SSL_CA' in database.refusal


@pytest.mark.parametrize('value', ['off', 'OFF', ' off '])
def test_db_ssl_ca_off_means_plaintext_on_purpose(value):
    database = settings_from({'ENVIRONMENT': 'prod', 'DB_HOST': 'db', 'DB_SSL_CA': value}).database

    assert (database.ssl_ca, database.refusal) == ('', '')


@pytest.mark.parametrize('stage', [{}, {'ENVIRONMENT': 'dev'}, {'ENVIRONMENT': 'prod'}])
def test_a_deployed_stage_reaching_a_mysql_database_url_without_db_ssl_ca_is_refused(stage):
    database = settings_from({**stage, 'DATABASE_URL': 'mysql://u:p@db:3306/shop'}).database

    assert 'DATABASE_URL names a MySQL server on a deployed stage without DB_SSL_CA' in (
        database.refusal
    )


def test_a_mysql_database_url_connects_without_tls_on_the_local_stage_or_when_off():
    url = 'mysql://u:p@db:3306/shop'
    local = settings_from({'ENVIRONMENT': 'local', 'DATABASE_URL': url}).database
    off = settings_from({'ENVIRONMENT': 'prod', 'DATABASE_URL': url, 'DB_SSL_CA': 'off'}).database

    assert (local.ssl_ca, local.refusal) == ('', '')
    assert (off.ssl_ca, off.refusal) == ('', '')


def test_a_relative_db_ssl_ca_is_a_file_of_the_package():
    database = settings_from(
        {'DB_HOST': 'db', 'DB_SSL_CA': 'chalicelib/certs/global-bundle.pem'}
    ).database

    assert database.ssl_ca == str(PACKAGE_ROOT / 'chalicelib' / 'certs' / 'global-bundle.pem')
    assert database.refusal == ''


@pytest.mark.parametrize(
    'env',
    [
        {'DB_HOST': 'db', 'DB_USER': 'u', 'DB_SECRET_ARN': 'arn:x'},
        {'DATABASE_URL': 'mysql://u:p@db:3306/shop'},
    ],
)
def test_db_ssl_ca_applies_to_either_way_of_naming_the_server(env):
    database = settings_from({**env, 'DB_SSL_CA': ' /opt/rds-global-bundle.pem '}).database

    assert database.ssl_ca == '/opt/rds-global-bundle.pem'


@pytest.mark.parametrize(
    'value, expected',
    [
        ('true', True),
        ('TRUE', True),
        ('1', True),
        ('yes', True),
        ('false', False),
        ('0', False),
        ('', False),
    ],
)
def test_db_iam_auth_reads_the_usual_spellings_of_a_flag(value, expected):
    settings = settings_from(
        {'DB_HOST': 'db', 'DB_USER': 'orders_app', 'DB_SSL_CA': '/ca.pem', 'DB_IAM_AUTH': value}
    )

    assert settings.database.iam_auth is expected


def test_iam_auth_with_a_ca_and_a_user_is_accepted():
    database = settings_from(
        {
            'DB_HOST': 'proxy.example.com',
            'DB_USER': 'orders_app',
            'DB_SSL_CA': '/ca.pem',
            'DB_IAM_AUTH': 'true',
        }
    ).database

    assert (database.iam_auth, database.user, database.password) == (True, 'orders_app', '')


@pytest.mark.parametrize(
    'env, says',
    [
        ({'DB_USER': 'orders_app'}, 'DB_SSL_CA'),
        ({'DB_SSL_CA': '/ca.pem'}, 'DB_USER'),
        ({'DB_USER': 'orders_app', 'DB_SSL_CA': '/ca.pem', 'DB_PASSWORD': 'p'}, 'DB_PASSWORD'),
        (
            {'DB_USER': 'orders_app', 'DB_SSL_CA': '/ca.pem', 'DB_SECRET_ARN': 'arn:x'},
            'DB_SECRET_ARN',
        ),
    ],
)
def test_iam_auth_refuses_a_configuration_it_cannot_sign_in_with_and_says_why(env, says):
    with pytest.raises(ConfigError, match=says):
        settings_from({'DB_HOST': 'db', 'DB_IAM_AUTH': 'true', **env})


def test_iam_auth_over_a_database_url_takes_its_user_and_refuses_its_password():
    env = {'DB_IAM_AUTH': 'true', 'DB_SSL_CA': '/ca.pem'}

    database = settings_from({**env, 'DATABASE_URL': 'mysql://orders_app@db/shop'}).database
    assert (database.user, database.iam_auth) == ('orders_app', True)
    with pytest.raises(ConfigError, match='DATABASE_URL'):
        settings_from({**env, 'DATABASE_URL': 'mysql://orders_app:pw@db/shop'})


def test_sqlite_ignores_the_server_only_settings():
    database = settings_from({'DB_SSL_CA': '/ca.pem', 'DB_IAM_AUTH': 'true'}).database

    assert (database.engine, database.ssl_ca, database.iam_auth) == ('sqlite', '', False)


def test_tracking_url_hosts_are_off_by_default_and_read_as_a_list():
    assert settings_from({}).tracking_url_hosts == ()
    assert settings_from({'TRACKING_URL_HOSTS': ' DHL.com, ups.com. ,,'}).tracking_url_hosts == (
        'dhl.com',
        'ups.com',
    )


def test_currency_and_payment_window_default_to_usd_and_one_hour():
    settings = settings_from({})

    assert (settings.default_currency, settings.payment_window) == ('USD', timedelta(hours=1))


def test_default_currency_is_read_in_any_case():
    assert settings_from({'DEFAULT_CURRENCY': ' jpy '}).default_currency == 'JPY'


@pytest.mark.parametrize('code', ['XXX', 'US', 'BHD', 'usd;'])
def test_a_default_currency_the_service_does_not_know_is_refused(code):
    with pytest.raises(ConfigError, match='DEFAULT_CURRENCY'):
        settings_from({'DEFAULT_CURRENCY': code})


def test_a_payment_window_of_0_means_never():
    assert settings_from({'PAYMENT_WINDOW_SECONDS': '0'}).payment_window is None


@pytest.mark.parametrize('value', ['-1', '1.5', 'soon', '\u00b2'])
def test_a_payment_window_that_is_not_whole_seconds_is_refused(value):
    with pytest.raises(ConfigError, match='PAYMENT_WINDOW_SECONDS'):
        settings_from({'PAYMENT_WINDOW_SECONDS': value})


@pytest.mark.parametrize(('value', 'limit'), [(None, 5), ('', 5), (' 2 ', 2), ('0', 0)])
def test_max_pending_orders_defaults_to_5_and_0_means_no_limit(value, limit):
    env = {} if value is None else {'MAX_PENDING_ORDERS_PER_CUSTOMER': value}

    assert settings_from(env).max_pending_orders == limit


@pytest.mark.parametrize('value', ['-1', '2.5', 'many', '\u00b2'])
def test_a_max_pending_orders_that_is_not_a_whole_number_is_refused(value):
    with pytest.raises(ConfigError, match='MAX_PENDING_ORDERS_PER_CUSTOMER'):
        settings_from({'MAX_PENDING_ORDERS_PER_CUSTOMER': value})


def test_the_stripe_namespace_defaults_to_the_stage_and_may_be_named():
    key = {'STRIPE_API_KEY': 'sk_test_1'}

    assert settings_from({**key, 'ENVIRONMENT': 'prod'}).stripe.namespace == 'orders-prod'
    assert settings_from(key).stripe.namespace == 'orders-dev'
    named = settings_from({**key, 'ENVIRONMENT': 'prod', 'STRIPE_NAMESPACE': 'shop-eu-prod'})
    assert named.stripe.namespace == 'shop-eu-prod'


@pytest.mark.parametrize('name', ['two words', 'x' * 101, 'café'])
def test_a_stripe_namespace_that_cannot_travel_in_a_key_is_refused(name):
    with pytest.raises(ConfigError, match='STRIPE_NAMESPACE'):
        settings_from({'STRIPE_API_KEY': 'sk_test_1', 'STRIPE_NAMESPACE': name})


@pytest.mark.parametrize(
    ('value', 'days'), [(None, 30), ('', 30), (' 14 ', 14), ('0', 0), ('3650', 3650)]
)
def test_the_return_window_defaults_to_30_days_and_0_means_customers_never_return(value, days):
    env = {} if value is None else {'RETURN_WINDOW_DAYS': value}

    assert settings_from(env).return_window_days == days


@pytest.mark.parametrize('value', ['-1', '3651', '99999', '2.5', 'a month', '\u00b3'])
def test_a_return_window_that_is_not_0_to_3650_whole_days_is_refused(value):
    with pytest.raises(ConfigError, match='RETURN_WINDOW_DAYS'):
        settings_from({'RETURN_WINDOW_DAYS': value})


def test_return_instructions_default_to_a_short_text_and_may_span_lines():
    assert settings_from({}).return_instructions == DEFAULT_RETURN_INSTRUCTIONS
    assert settings_from({'RETURN_INSTRUCTIONS': '  '}).return_instructions == (
        DEFAULT_RETURN_INSTRUCTIONS
    )
    text = 'Send to:\n\tShop Returns\r\n1 Dock Road <b>Leeds</b>'

    assert settings_from({'RETURN_INSTRUCTIONS': text}).return_instructions == text


def test_return_instructions_longer_than_2000_characters_are_refused():
    assert len(settings_from({'RETURN_INSTRUCTIONS': 'x' * 2000}).return_instructions) == 2000
    with pytest.raises(ConfigError, match='RETURN_INSTRUCTIONS: at most 2000'):
        settings_from({'RETURN_INSTRUCTIONS': 'x' * 2001})


@pytest.mark.parametrize('character', ['\x00', '\x1b', '\u202e', '\u200b', '\ufeff', '\x85'])
def test_return_instructions_with_a_character_free_text_refuses_are_refused(character):
    with pytest.raises(ConfigError, match=f'RETURN_INSTRUCTIONS: .* U\\+{ord(character):04X}'):
        settings_from({'RETURN_INSTRUCTIONS': f'Send it{character} back'})
