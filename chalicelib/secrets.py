"""Database credentials from Secrets Manager, fetched once per container."""
import functools
import json

from chalicelib import aws
from chalicelib.config import get_settings


@functools.lru_cache(maxsize=4)
def database_credentials(secret_arn):
    secret = aws.client('secretsmanager', get_settings().aws_region) \
        .get_secret_value(SecretId=secret_arn)
    value = json.loads(secret['SecretString'])
    return value['username'], value['password']
