"""One JSON object per log line on stdout, written by Powertools Logger.

Every line has `timestamp` (UTC, ISO 8601 with a Z), `level` and `message`;
the API's middleware (api/middleware.py) adds, per invocation, the Lambda context (`cold_start`,
`function_name`, `function_request_id`, ...) and `request_id` on HTTP, the
notifier `message_id` per SQS record, and call sites pass `order_id` and
`event_id` with `extra=`. The Powertools package costs about 10 ms of a
cold start with .pyc (README, "Logs, metrics and traces")."""

import logging

from aws_lambda_powertools import Logger

SERVICE = 'orders'

log = Logger(
    service=SERVICE,
    utc=True,
    # %F is Powertools' milliseconds: 2026-11-25T10:00:00.123Z
    datefmt='%Y-%m-%dT%H:%M:%S.%FZ',
    log_record_order=['timestamp', 'level', 'message'],
    # `exception` already holds the traceback as text; the same frames again
    # as a structure would double every error line.
    serialize_stacktrace=False,
)
# Lambda's runtime puts a handler on the root logger: don't print twice.
logging.getLogger(SERVICE).propagate = False


def configure(level: str = 'INFO') -> None:
    log.setLevel(level)
