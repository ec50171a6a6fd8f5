import pytest

from chalicelib.config import ConfigError, parse_database_url, settings_from


def test_default_is_sqlite_under_data_with_auto_migrate():
    settings = settings_from({})

    assert settings.database.engine == 'sqlite'
    assert settings.database.path == '.data/orders.sqlite3'
    assert settings.auto_migrate is True
    assert settings.sns_topic_arn is None
    assert (settings.log_level, settings.aws_region) == ('INFO', 'us-east-1')
    assert (settings.notify_queue, settings.notify_dlq) == (
        'orders-notifications', 'orders-notifications-dlq')


@pytest.mark.parametrize('url, path', [
    ('sqlite:///relative/orders.db', 'relative/orders.db'),
    ('sqlite:////absolute/orders.db', '/absolute/orders.db'),
])
def test_sqlite_urls_keep_relative_and_absolute_paths(url, path):
    assert parse_database_url(url).path == path


def test_mysql_url_gives_every_part_with_escapes_decoded():
    db = parse_database_url('mysql://app:p%40ss@db.example.com:3307/shop')

    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        'mysql', 'db.example.com', 3307, 'shop', 'app', 'p@ss')


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
