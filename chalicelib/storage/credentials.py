"""Database credentials from Secrets Manager, fetched once per container."""
import functools
import json

from chalicelib import aws
from chalicelib.config import get_settings


@functools.lru_cache(maxsize=4)
def database_credentials(secret_arn):
    # The secret lives in the region its ARN names, whatever AWS_REGION says.
    parts = secret_arn.split(':')
    region = parts[3] if len(parts) > 3 and parts[3] else get_settings().aws_region
    secret = aws.client('secretsmanager', region).get_secret_value(SecretId=secret_arn)
    value = json.loads(secret['SecretString'])
    return value['username'], value['password']
