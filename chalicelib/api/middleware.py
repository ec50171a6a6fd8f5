"""The middleware every invocation passes through, outermost first."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalice import Chalice, ConvertToMiddleware
from chalice.app import Request, Response

from chalicelib.platform import logs, tracing
from chalicelib.storage import connection

_PATH_ID = re.compile(r'[1-9][0-9]{0,18}')


def install(app: Chalice) -> None:
    """Every invocation: the Lambda context on each log line (cold_start,
    function_request_id, ...), the keys of the one before cleared; never the
    event, which carries the bearer token (log_event=False wins over
    POWERTOOLS_LOGGER_LOG_EVENT). Then its trace. Then, for HTTP, one
    request at a time and the request's own keys."""
    app.register_middleware(
        ConvertToMiddleware(logs.log.inject_lambda_context(log_event=False, clear_state=True)),
        'all',
    )
    app.register_middleware(ConvertToMiddleware(tracing.traced_handler), 'all')
    app.register_middleware(one_request_at_a_time, 'http')
    app.register_middleware(request_log_context, 'http')


def one_request_at_a_time(event: Request, get_response: Callable[[Request], Response]) -> Any:
    # A Lambda copy serves one request at a time; chalice local's threads are
    # made to as well, so they can share the one warm database connection.
    with connection.one_request_at_a_time:
        return get_response(event)


def request_log_context(event: Request, get_response: Callable[[Request], Response]) -> Any:
    """request_id on every line of a request, and order_id on those of a
    request for one order (also a refused one's, and a 503's cause)."""
    order_id = (event.uri_params or {}).get('order_id', '')
    logs.log.append_keys(
        request_id=getattr(event.lambda_context, 'aws_request_id', None),
        order_id=int(order_id) if _PATH_ID.fullmatch(order_id) else None,
    )
    return get_response(event)
