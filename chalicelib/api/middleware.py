"""The middleware every invocation passes through, outermost first."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalice import Chalice
from chalice.app import BaseLambdaEvent, Request, Response

from chalicelib.platform import logs, tracing
from chalicelib.storage import connection

_PATH_ID = re.compile(r'[1-9][0-9]{0,18}')


def install(app: Chalice) -> None:
    """Every invocation: the Lambda context on each log line (cold_start,
    function_request_id, ...), the keys of the one before cleared; never the
    event, which carries the bearer token (log_event=False wins over
    POWERTOOLS_LOGGER_LOG_EVENT). Then its trace, where tracing is on (in
    Lambda: tracing.active). Then, for HTTP, one request at a time and the
    request's own keys."""
    app.register_middleware(lambda_context_on_log_lines, 'all')
    if tracing.active():
        app.register_middleware(traced, 'all')
    app.register_middleware(one_request_at_a_time, 'http')
    app.register_middleware(request_log_context, 'http')


# Powertools' decorators, built once per container. Chalice's
# ConvertToMiddleware would call the decorator anew on every invocation (its
# settings read again, two functools.wraps): 17 of the 58 µs of CPU a
# GET /health took on SQLite. Here the decorated function is the rest of the
# chain, handed the Chalice event and get_response; Powertools reads only the
# Lambda context (the event would be read for log_event or a correlation id,
# neither of which is used).
def _rest_of_chain(event: Any, context: Any, get_response: Callable[[Any], Any]) -> Any:
    return get_response(event)


_with_lambda_context = logs.log.inject_lambda_context(
    _rest_of_chain, log_event=False, clear_state=True
)
_traced_chain: list[Callable[..., Any]] = []


def _lambda_context(event: Request | BaseLambdaEvent) -> Any:
    return event.lambda_context if isinstance(event, Request) else event.context


def lambda_context_on_log_lines(
    event: Request | BaseLambdaEvent, get_response: Callable[[Any], Any]
) -> Any:
    return _with_lambda_context(event, _lambda_context(event), get_response)


def traced(event: Request | BaseLambdaEvent, get_response: Callable[[Any], Any]) -> Any:
    # The Tracer (and the X-Ray SDK) is built by the first invocation, not at import.
    if not _traced_chain:
        _traced_chain.append(tracing.traced_handler(_rest_of_chain))
    return _traced_chain[0](event, _lambda_context(event), get_response=get_response)


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
