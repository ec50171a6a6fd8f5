"""One JSON object per log line on stdout, written by Powertools Logger.

Every line has `timestamp` (UTC, ISO 8601 with a Z), `level` and `message`;
the API's middleware (api/middleware.py) adds, per invocation, the Lambda context (`cold_start`,
`function_name`, `function_request_id`, ...) and `request_id` on HTTP, the
notifier `message_id` per SQS record, and call sites pass `order_id` and
`event_id` with `extra=`; the stripe library's own lines come through the
same handler. The Powertools package costs about 10 ms of a
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

# Libraries whose own log lines go out through our handler, as JSON lines
# with our keys (request_id, ...), not as plain text beside ours (Lambda's
# runtime and `chalice local` give the root logger a plain-text handler).
# Their loggers are set up here, before the libraries load: `import stripe`
# only fetches its logger by name, and stays a payment path's cost. stripe
# logs at our level (a line per Stripe call, no key in it); the AWS SDK and
# urllib3 only their warnings: at DEBUG botocore logs signed requests, with
# the session token, and the bodies sent (customers' emails).
LIBRARIES = {'stripe': None, 'botocore': 'WARNING', 'boto3': 'WARNING', 'urllib3': 'WARNING'}


def _library_level(name: str, level: str | int) -> int:
    floor = LIBRARIES[name]
    ours = logging.getLevelName(level) if isinstance(level, str) else level
    return ours if floor is None else max(ours, logging.getLevelName(floor))


for _name in LIBRARIES:
    _library = logging.getLogger(_name)
    _library.handlers = [log.registered_handler]
    _library.propagate = False
    _library.setLevel(_library_level(_name, log.log_level))


def configure(level: str = 'INFO') -> None:
    log.setLevel(level)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(_library_level(name, level))
