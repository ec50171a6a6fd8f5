"""Who the service signs in to MySQL as, asked for at each new connection.

Three sources, one shape: `get()` gives (user, password) for the connection
being opened; `renew()` is called once when the server refused them (1045)
and says whether trying again could help.

- a Secrets Manager secret `{username, password}`, kept for SECRET_TTL so a
  rotated password is picked up by the next new connection without a read
  per connection, and read again at once when the server refuses it;
- an RDS IAM auth token, signed anew for every connection: the server checks
  it only while the connection signs in, and it is valid 15 minutes;
- a fixed user and password from the environment.

A failure of AWS (Secrets Manager, or the credentials the signer needs) is
raised as CredentialsUnavailable, an OperationalError: to a request it is the
database being unreachable, a 503, never a 500."""

import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import peewee

from chalicelib.core import clock
from chalicelib.platform import aws
from chalicelib.platform.config import Settings
from chalicelib.platform.logs import log

SECRET_TTL = 300.0  # seconds

_T = TypeVar('_T')


class Credentials(Protocol):
    def get(self) -> tuple[str, str]:
        """(user, password) for the connection being opened."""

    def renew(self) -> bool:
        """After the server refused them: could trying again help?"""


class CredentialsUnavailable(peewee.OperationalError):
    pass


def credentials_for(settings: Settings) -> Credentials:
    database = settings.database
    if database.iam_auth:
        return IamAuthToken(
            lambda: aws.client('rds', settings.aws_region),
            database.host,
            database.port,
            database.user,
            settings.aws_region,
        )
    if database.secret_arn:
        # The secret lives in the region its ARN names, whatever AWS_REGION says.
        parts = database.secret_arn.split(':')
        region = parts[3] if len(parts) > 3 and parts[3] else settings.aws_region
        return SecretCredentials(lambda: aws.client('secretsmanager', region), database.secret_arn)
    return FixedCredentials(database.user, database.password)


def _call_aws(call: Callable[[], _T]) -> _T:
    """call(), with an AWS failure raised as CredentialsUnavailable whose text
    is the class and AWS error code, for the log: never a value it read."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except ClientError as exc:
        error = exc.response.get('Error', {})
        raise CredentialsUnavailable(
            f'ClientError {error.get("Code", "?")}: {error.get("Message", "")}'
        ) from exc
    except BotoCoreError as exc:
        raise CredentialsUnavailable(f'{type(exc).__name__}: {exc}') from exc


class FixedCredentials:
    def __init__(self, user: str, password: str) -> None:
        self._credentials = (user, password)

    def get(self) -> tuple[str, str]:
        return self._credentials

    def renew(self) -> bool:
        return False  # the environment says the same thing twice


class SecretCredentials:
    def __init__(
        self,
        secretsmanager: Callable[[], Any],
        secret_arn: str,
        ttl: float = SECRET_TTL,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._secretsmanager = secretsmanager
        self._secret_arn = secret_arn
        self._ttl = ttl
        self._clock = monotonic or clock.monotonic
        self._credentials: tuple[str, str] | None = None
        self._read_at = 0.0

    def get(self) -> tuple[str, str]:
        if self._credentials is None:
            self._read()
        elif self._clock() - self._read_at >= self._ttl:
            try:
                self._read()
            except CredentialsUnavailable as exc:
                # The last value read is still the best guess; the server
                # says whether it still holds (1045 reads it again).
                log.warning(
                    'Could not read the database secret again, using the one read before: %s', exc
                )
        assert self._credentials is not None  # _read() set them or raised
        return self._credentials

    def renew(self) -> bool:
        before = self._credentials
        self._read()
        return self._credentials != before

    def _read(self) -> None:
        secret = _call_aws(
            lambda: self._secretsmanager().get_secret_value(SecretId=self._secret_arn)
        )
        try:
            value = json.loads(secret['SecretString'])
            credentials = (value['username'], value['password'])
        except (KeyError, TypeError, ValueError):
            # Say nothing of what the secret holds: it may be a password.
            raise CredentialsUnavailable(
                'the database secret is not JSON {"username": ..., "password": ...}'
            ) from None
        self._credentials = credentials
        self._read_at = self._clock()


class IamAuthToken:
    def __init__(
        self, rds: Callable[[], Any], host: str, port: int, user: str, region: str
    ) -> None:
        self._rds = rds
        self._host, self._port, self._user, self._region = host, port, user, region

    def get(self) -> tuple[str, str]:
        token: str = _call_aws(
            lambda: self._rds().generate_db_auth_token(
                DBHostname=self._host, Port=self._port, DBUsername=self._user, Region=self._region
            )
        )
        return self._user, token

    def renew(self) -> bool:
        return False  # every connection signs a new token already
