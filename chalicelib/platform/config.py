"""Settings from the environment, read once per container."""

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chalicelib.core import money
from chalicelib.core.text import refused_character

DEFAULT_SQLITE_PATH = '.data/orders.sqlite3'
LOCAL_STAGE = 'local'
# A relative DB_SSL_CA is a file of the deployment package (as the shipped
# stages name the RDS bundle): found from the package's root, wherever the
# process was started.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# DB_SSL_CA=off: plaintext to a MySQL host on a deployed stage, on purpose.
SSL_CA_OFF = 'off'
DEFAULT_USER_ID_CLAIM = 'custom:user_id'
DEFAULT_STAFF_GROUP = 'staff'
DEFAULT_JWKS_MAX_AGE = 300
DEFAULT_RETURN_WINDOW_DAYS = 30
MAX_RETURN_WINDOW_DAYS = 3650
# Two short lines: a text line longer than 76 characters reaches the
# customer's mail client quoted-printable, folded where it was not written.
DEFAULT_RETURN_INSTRUCTIONS = (
    'Pack the items securely and write the return number on the parcel.\n'
    'Send it to our returns address: we will email you when it arrives.'
)
MAX_RETURN_INSTRUCTIONS = 2000


@dataclass(frozen=True)
class DatabaseSettings:
    engine: str  # 'sqlite' or 'mysql'
    path: str = ''  # sqlite only
    host: str = ''
    port: int = 3306
    name: str = 'orders'
    user: str = ''
    password: str = ''
    secret_arn: str = ''
    ssl_ca: str = ''  # a CA bundle: TLS, the server's certificate checked against it
    iam_auth: bool = False  # sign in with an RDS IAM auth token, no password
    # Why this database must not be reached at all (a deployed stage with no
    # DB_SSL_CA): every connection attempt is refused with this in the log.
    refusal: str = ''

    def __repr__(self) -> str:
        # Settings end up in tracebacks and debug logs: never show the password.
        return (
            f'DatabaseSettings(engine={self.engine!r}, path={self.path!r}, '
            f'host={self.host!r}, port={self.port}, name={self.name!r}, '
            f'user={self.user!r}, ssl_ca={self.ssl_ca!r}, '
            f'iam_auth={self.iam_auth}, refusal={self.refusal!r})'
        )


@dataclass(frozen=True)
class AuthSettings:
    issuer: str
    audiences: tuple[str, ...]
    jwks_url: str
    user_id_claim: str = DEFAULT_USER_ID_CLAIM
    staff_group: str = DEFAULT_STAFF_GROUP
    jwks_max_age: float = DEFAULT_JWKS_MAX_AGE  # seconds fetched keys are trusted


@dataclass(frozen=True)
class StripeSettings:
    """Card payments: the secret key and webhook signing secret, given as
    they are (STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET) or in a Secrets
    Manager secret (STRIPE_SECRET_ARN) read on first use."""

    api_key: str = ''
    webhook_secret: str = ''
    secret_arn: str = ''
    api_base: str = ''  # a local stand-in; empty: Stripe's own
    # This deployment's name in Stripe (STRIPE_NAMESPACE): in each object's
    # metadata.deployment and in each idempotency key, so that two stages
    # sharing one Stripe account never take each other's payments or keys.
    namespace: str = 'orders-dev'

    def __repr__(self) -> str:
        # Settings end up in tracebacks and debug logs: never show a secret.
        return (
            f'StripeSettings(secret_arn={self.secret_arn!r}, api_base={self.api_base!r}, '
            f'namespace={self.namespace!r})'
        )


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    auto_migrate: bool
    sns_topic_arn: str | None
    ses_sender_email: str | None
    mail_dir: str | None
    log_level: str
    aws_region: str
    outbox_retention: timedelta
    notify_queue: str
    notify_dlq: str
    # The stage name: 'local' lets a missing AUTH_ISSUER mean the development
    # issuer; on any other stage it means every protected request is refused.
    environment: str
    # None: no AUTH_ISSUER, authentication is not configured.
    auth: AuthSettings | None = None
    # The hosts a tracking_url may point at (each with its subdomains); empty:
    # any https:// host.
    tracking_url_hosts: tuple[str, ...] = ()
    # The currency of an order with nothing else to go by, and of the orders
    # placed before orders had one.
    default_currency: str = 'USD'
    # How long a pending order may wait for its payment; None: for ever.
    payment_window: timedelta | None = timedelta(hours=1)
    # None: neither STRIPE_SECRET_ARN nor STRIPE_API_KEY, no card payments.
    stripe: StripeSettings | None = None
    # Whether catalog, staff and shipping prices include tax (PRICES_INCLUDE_TAX).
    prices_include_tax: bool = False
    # How many pending orders one customer may hold at once; 0: no limit.
    max_pending_orders: int = 5
    # How many days after delivery a customer may open a return; 0: never
    # (staff still may).
    return_window_days: int = DEFAULT_RETURN_WINDOW_DAYS
    # The text of the email that approves a return: how to send the goods.
    return_instructions: str = DEFAULT_RETURN_INSTRUCTIONS
    # The stage metrics are counted under: ENVIRONMENT, or with it unset,
    # `local` outside Lambda (make relay, make migrate on a developer's
    # machine) and `dev` inside, so that local runs never add to dev's.
    metrics_stage: str = 'dev'


class ConfigError(ValueError):
    pass


def default_currency(env: Mapping[str, str]) -> str:
    code = (env.get('DEFAULT_CURRENCY') or 'USD').strip().upper()
    if not money.is_currency(code):
        raise ConfigError(
            f'DEFAULT_CURRENCY: {code!r} is not one of the currencies the '
            f'service knows ({", ".join(sorted(money.CURRENCIES))})'
        )
    return code


def payment_window(env: Mapping[str, str]) -> timedelta | None:
    text = (env.get('PAYMENT_WINDOW_SECONDS') or '3600').strip()
    if not re.fullmatch(r'[0-9]{1,9}', text):
        raise ConfigError('PAYMENT_WINDOW_SECONDS: a whole number of seconds, 0 for never')
    seconds = int(text)
    return timedelta(seconds=seconds) if seconds else None


def max_pending_orders(env: Mapping[str, str]) -> int:
    text = (env.get('MAX_PENDING_ORDERS_PER_CUSTOMER') or '5').strip()
    if not re.fullmatch(r'[0-9]{1,9}', text):
        raise ConfigError(
            'MAX_PENDING_ORDERS_PER_CUSTOMER: a whole number of orders, 0 for no limit'
        )
    return int(text)


def return_window_days(env: Mapping[str, str]) -> int:
    text = (env.get('RETURN_WINDOW_DAYS') or str(DEFAULT_RETURN_WINDOW_DAYS)).strip()
    if not re.fullmatch(r'[0-9]{1,4}', text) or int(text) > MAX_RETURN_WINDOW_DAYS:
        raise ConfigError(
            f'RETURN_WINDOW_DAYS: a whole number of days from 0 to {MAX_RETURN_WINDOW_DAYS}, '
            '0 for customers never opening returns'
        )
    return int(text)


def return_instructions(env: Mapping[str, str]) -> str:
    """RETURN_INSTRUCTIONS: free text (several lines allowed) that goes into
    every approval email; unset or blank, the short default."""
    text = (env.get('RETURN_INSTRUCTIONS') or '').strip() or DEFAULT_RETURN_INSTRUCTIONS
    if len(text) > MAX_RETURN_INSTRUCTIONS:
        raise ConfigError(
            f'RETURN_INSTRUCTIONS: at most {MAX_RETURN_INSTRUCTIONS} characters, not {len(text)}'
        )
    found = refused_character(text, multi_line=True)
    if found:
        # The value is not echoed: it may hold exactly what makes it unsafe to print.
        raise ConfigError(
            'RETURN_INSTRUCTIONS: must not hold control, bidirectional-control or '
            f'invisible characters other than tabs and line breaks; found '
            f'U+{ord(found.group()):04X} at position {found.start()}'
        )
    return text


def parse_database_url(url: str) -> DatabaseSettings:
    parts = urlsplit(url)
    if parts.scheme == 'sqlite':
        # sqlite:///relative/path -> 'relative/path'; sqlite:////abs -> '/abs'
        path = url[len('sqlite:///') :]
        if not url.startswith('sqlite:///') or not path:
            raise ConfigError('DATABASE_URL: expected sqlite:///path')
        return DatabaseSettings(engine='sqlite', path=path)
    if parts.scheme in ('mysql', 'mariadb', 'mysql+pymysql'):
        name = parts.path.lstrip('/')
        if not parts.hostname or not name:
            raise ConfigError('DATABASE_URL: expected mysql://user:pass@host:port/db')
        return DatabaseSettings(
            engine='mysql',
            host=parts.hostname,
            port=parts.port or 3306,
            name=unquote(name),
            user=unquote(parts.username or ''),
            password=unquote(parts.password or ''),
        )
    raise ConfigError(f'DATABASE_URL: unsupported scheme {parts.scheme!r}')


def database_settings(env: Mapping[str, str]) -> DatabaseSettings:
    if env.get('DATABASE_URL'):
        database = parse_database_url(env['DATABASE_URL'])
    elif env.get('DB_HOST'):
        database = DatabaseSettings(
            engine='mysql',
            host=env['DB_HOST'],
            port=int(env.get('DB_PORT') or 3306),
            name=env.get('DB_NAME') or 'orders',
            user=env.get('DB_USER', ''),
            password=env.get('DB_PASSWORD', ''),
            secret_arn=env.get('DB_SECRET_ARN', ''),
        )
    else:
        return DatabaseSettings(engine='sqlite', path=DEFAULT_SQLITE_PATH)
    if database.engine != 'mysql':
        return database
    ssl_ca = (env.get('DB_SSL_CA') or '').strip()
    refusal = ''
    if not ssl_ca and env.get('ENVIRONMENT', 'dev') != LOCAL_STAGE:
        # The password (or the IAM token) would travel in clear to whatever
        # answers at that host, however the server was named.
        named_by = (
            'DATABASE_URL names a MySQL server' if env.get('DATABASE_URL') else 'DB_HOST is set'
        )
        refusal = (
            f'{named_by} on a deployed stage without DB_SSL_CA: connecting without '
            'TLS is refused (set DB_SSL_CA to the RDS CA bundle, or DB_SSL_CA=off '
            'to connect in plaintext on purpose)'
        )
    if ssl_ca.lower() == SSL_CA_OFF:
        ssl_ca = ''
    elif ssl_ca:
        ssl_ca = str(PACKAGE_ROOT / ssl_ca)  # an absolute path stays as it is
    database = dataclasses.replace(
        database, ssl_ca=ssl_ca, refusal=refusal, iam_auth=_flag(env.get('DB_IAM_AUTH') or '')
    )
    if database.iam_auth:
        _check_iam_auth(database)
    return database


def _check_iam_auth(database: DatabaseSettings) -> None:
    if not database.ssl_ca:
        # MySQL sends the token as a clear-text password (mysql_clear_password):
        # only inside TLS whose certificate was checked may it travel.
        raise ConfigError(
            'DB_IAM_AUTH=true needs DB_SSL_CA (the RDS CA bundle): '
            'the IAM token is sent in clear text, so only over verified TLS'
        )
    if not database.user:
        raise ConfigError('DB_IAM_AUTH=true needs DB_USER, the database user the token signs in as')
    if database.password or database.secret_arn:
        raise ConfigError(
            'DB_IAM_AUTH=true signs in with a token: unset DB_PASSWORD '
            'and DB_SECRET_ARN (and any password in DATABASE_URL)'
        )


def _flag(value: str) -> bool:
    return value.strip().lower() in ('1', 'true', 'yes', 'on')


def auth_settings(env: Mapping[str, str]) -> AuthSettings | None:
    issuer = (env.get('AUTH_ISSUER') or '').strip()
    if not issuer:
        return None
    audiences = tuple(
        value.strip() for value in (env.get('AUTH_AUDIENCE') or '').split(',') if value.strip()
    )
    return AuthSettings(
        issuer=issuer,
        audiences=audiences,
        jwks_url=(
            (env.get('AUTH_JWKS_URL') or '').strip()
            or issuer.rstrip('/') + '/.well-known/jwks.json'
        ),
        user_id_claim=(env.get('AUTH_USER_ID_CLAIM') or '').strip() or DEFAULT_USER_ID_CLAIM,
        staff_group=(env.get('AUTH_STAFF_GROUP') or '').strip() or DEFAULT_STAFF_GROUP,
        jwks_max_age=_positive_int(env, 'AUTH_JWKS_MAX_AGE_SECONDS', DEFAULT_JWKS_MAX_AGE),
    )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = (env.get(name) or '').strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f'{name} must be a whole number of seconds, at least 1: {value!r}')
    return int(value)


def stripe_settings(env: Mapping[str, str]) -> StripeSettings | None:
    secret_arn = (env.get('STRIPE_SECRET_ARN') or '').strip()
    api_key = (env.get('STRIPE_API_KEY') or '').strip()
    if not secret_arn and not api_key:
        return None
    return StripeSettings(
        api_key=api_key,
        webhook_secret=(env.get('STRIPE_WEBHOOK_SECRET') or '').strip(),
        secret_arn=secret_arn,
        api_base=(env.get('STRIPE_API_BASE') or '').strip(),
        namespace=stripe_namespace(env),
    )


def stripe_namespace(env: Mapping[str, str]) -> str:
    """STRIPE_NAMESPACE, or orders-<stage>. Printable ASCII without spaces, at
    most 100 characters: it is sent as metadata and inside idempotency keys
    (Stripe takes 255)."""
    name = (env.get('STRIPE_NAMESPACE') or '').strip() or f'orders-{env.get("ENVIRONMENT", "dev")}'
    if not re.fullmatch(r'[!-~]{1,100}', name):
        raise ConfigError(
            f'STRIPE_NAMESPACE: {name!r} must be 1..100 printable ASCII characters, no spaces'
        )
    return name


def settings_from(env: Mapping[str, str]) -> Settings:
    database = database_settings(env)
    notify_queue = env.get('NOTIFY_QUEUE_NAME') or 'orders-notifications'
    auto_migrate = env.get('AUTO_MIGRATE')
    return Settings(
        database=database,
        auto_migrate=(
            _flag(auto_migrate) if auto_migrate is not None else database.engine == 'sqlite'
        ),
        sns_topic_arn=env.get('SNS_TOPIC_ARN') or None,
        ses_sender_email=env.get('SES_SENDER_EMAIL') or None,
        mail_dir=env.get('MAIL_DIR') or None,
        log_level=env.get('LOG_LEVEL', 'INFO').upper(),
        aws_region=env.get('AWS_REGION') or env.get('AWS_DEFAULT_REGION') or 'us-east-1',
        outbox_retention=timedelta(days=int(env.get('OUTBOX_RETENTION_DAYS') or 7)),
        notify_queue=notify_queue,
        notify_dlq=env.get('NOTIFY_DLQ_NAME') or f'{notify_queue}-dlq',
        environment=env.get('ENVIRONMENT', 'dev'),
        auth=auth_settings(env),
        tracking_url_hosts=tuple(
            host.strip().lower().rstrip('.')
            for host in (env.get('TRACKING_URL_HOSTS') or '').split(',')
            if host.strip()
        ),
        default_currency=default_currency(env),
        payment_window=payment_window(env),
        stripe=stripe_settings(env),
        prices_include_tax=_flag(env.get('PRICES_INCLUDE_TAX') or ''),
        max_pending_orders=max_pending_orders(env),
        return_window_days=return_window_days(env),
        return_instructions=return_instructions(env),
        metrics_stage=(
            env.get('ENVIRONMENT')
            or ('dev' if env.get('AWS_LAMBDA_FUNCTION_NAME') else LOCAL_STAGE)
        ),
    )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from(os.environ)
