"""`make run`'s scheduler: app.py's scheduled functions on their schedules,
which `chalice local` does not run (tools/run_local.py starts this beside it).

Each function is called as Lambda calls it: its handler (`app.<name>`) with
an EventBridge scheduled event and a Lambda context, chalice local's, so it
has the 3 s budget `chalice local` and the tests give a request. Every
function runs once at start, then once per Rate; one at a time, as their
reserved concurrency of one or two mostly makes them in AWS. A function that
fails is logged and runs again at its next time, as EventBridge would call it.
Development only."""

from __future__ import annotations

import datetime
import heapq
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from chalice.app import Chalice, Rate, ScheduledEventConfig
from chalice.local import LambdaContext

BUDGET_MS = 3000  # chalice local's Lambda context
MEMORY_MB = 256  # what the stages give each scheduled function
SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}


def schedules(app: Chalice) -> Iterator[tuple[str, float]]:
    """(function name, seconds between runs) of each scheduled function."""
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            rate = source.schedule_expression
            if not isinstance(rate, Rate):
                raise SystemExit(f'{source.name}: only Rate schedules run locally, not {rate}')
            yield source.name, rate.value * SECONDS[rate.unit]


def scheduled_event(name: str) -> dict[str, Any]:
    """What EventBridge hands a scheduled function."""
    return {
        'version': '0',
        'id': str(uuid.uuid4()),
        'detail-type': 'Scheduled Event',
        'source': 'aws.events',
        'account': '000000000000',
        'time': datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'region': 'local',
        'resources': [f'arn:aws:events:local:000000000000:rule/{name}'],
        'detail': {},
    }


def invoke(app_module: Any, name: str) -> Any:
    context = LambdaContext(f'{app_module.app.app_name}-local-{name}', MEMORY_MB, BUDGET_MS)
    return getattr(app_module, name)(scheduled_event(name), context)


def run(
    app_module: Any,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Forever: each function at start, then every period."""
    from chalicelib.platform.logs import log

    start = clock()
    due = [(start, name, period) for name, period in schedules(app_module.app)]
    heapq.heapify(due)
    print(
        'make run: scheduled functions:',
        ', '.join(f'{name} every {period:g} s' for _, name, period in sorted(due)),
        flush=True,
    )
    while due:
        at, name, period = heapq.heappop(due)
        sleep(max(0.0, at - clock()))
        try:
            invoke(app_module, name)
        except Exception:  # the next run tries again, as EventBridge would call it
            log.exception('Scheduled function %s failed', name)
        heapq.heappush(due, (at + period, name, period))


def main() -> None:
    import app

    try:
        run(app)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
