"""X-Ray traces with Powertools Tracer: each invocation a subsegment
"## handler" (annotated ColdStart and Service), every SQL statement and
every AWS call (SNS, SES, Secrets Manager) a subsegment of its own.

Tracing runs where Powertools would run it: in Lambda (the stages set
`"xray": true`), unless POWERTOOLS_TRACE_DISABLED is true; never in
`chalice local`, the tests or the operator commands. Nothing of the X-Ray
SDK is imported where tracing is off: Tracer() imports it even to stay
disabled, and outside Lambda the SDK's sampler then builds two botocore
clients (150 ms).

Where it is on, the Tracer is built on the first invocation: 19 ms for
the SDK (in Lambda, with its local sampler). It patches the database
drivers already imported, at no measurable cost (PyMySQL, imported by the
first MySQL connection, asks for its patch then: storage/drivers.py); botocore is patched only
once boto3 is imported for a client (chalicelib/platform/aws.py), because patching it
earlier would import it into every cold start, and a GET needs no AWS client.
Tracer's own auto_patch is off for the same reason: its patch_all imports
boto3, botocore and requests (60 ms more on every cold start).
(Medians of 9 fresh processes with .pyc, README "Logs, metrics and traces".)"""

import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.platform.logs import SERVICE

if TYPE_CHECKING:
    from aws_lambda_powertools.tracing import Tracer

DATABASE_DRIVERS = ('pymysql', 'sqlite3')
_TRUE = ('1', 'true', 'yes', 'on')

_tracer: 'Tracer | None' = None


def active(env: Mapping[str, str] = os.environ) -> bool:
    """Powertools' own rule (Tracer._is_tracer_disabled), read without
    importing the SDK."""
    if env.get('POWERTOOLS_TRACE_DISABLED', '').strip().lower() in _TRUE:
        return False
    return bool(env.get('LAMBDA_TASK_ROOT')) and not (
        env.get('AWS_SAM_LOCAL') or env.get('AWS_CHALICE_CLI_MODE')
    )


def tracer() -> 'Tracer | None':
    """The Tracer, built on first use; None when tracing is off."""
    global _tracer
    if _tracer is None and active():
        from aws_lambda_powertools.tracing import Tracer

        _tracer = Tracer(service=SERVICE, auto_patch=False)
        # The drivers imported so far; PyMySQL, imported by the first MySQL
        # connection (storage/drivers.py), asks for its patch then.
        _tracer.patch([name for name in DATABASE_DRIVERS if name in sys.modules])
    return _tracer


def patch_database_driver(name: str) -> None:
    """Make each statement of the driver `name` a subsegment; call once it is imported."""
    active_tracer = tracer()
    if active_tracer is not None:
        active_tracer.patch((name,))


def patch_aws() -> None:
    """Make every botocore call a subsegment; call once boto3 is imported."""
    active_tracer = tracer()
    if active_tracer is not None:
        active_tracer.patch(('botocore',))


def traced_handler(lambda_handler: Callable[..., Any]) -> Callable[..., Any]:
    """`lambda_handler` (event, context, **more) with each invocation in a
    subsegment "## handler", with the exception that escaped it, if any.
    Never the response: it holds customers' orders and email addresses.
    Unchanged when tracing is off. Build it once, not per invocation: the
    decorator reads its settings and wraps anew each time it is called."""
    active_tracer = tracer()
    if active_tracer is None:
        return lambda_handler

    def handler(event: Any, context: Any, **more: Any) -> Any:  # its name is the subsegment's
        return lambda_handler(event, context, **more)

    return active_tracer.capture_lambda_handler(handler, capture_response=False)
