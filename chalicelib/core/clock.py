"""The one clock of the service: naive UTC datetimes in, ISO 8601 with a Z out.

Naive because both databases store DATETIME without a zone; everything the
service stores or sends is UTC. Code that needs "now" takes a `clock`
argument defaulting to `utcnow`, so tests can hand in a fixed time.
Ages and timeouts (how long a connection sat idle, how old a cached secret
is) use `monotonic`, which tests replace to make time pass."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class LambdaContext(Protocol):
    """What the service reads of the context Lambda hands a function."""

    def get_remaining_time_in_millis(self) -> int: ...


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def time_left(context: LambdaContext, unit_seconds: float) -> Callable[[], float]:
    """A function giving the seconds a scheduled Lambda invocation may still
    start another unit of work in: its remaining time, less a margin.

    The margin is what one unit may take at its slowest (`unit_seconds`),
    but never more than half the time the invocation had when this was
    called: a function given less time than that (a short timeout, or the
    3 s that `chalice local` and the test client report) still works,
    through half of its time, instead of finding it too short and doing
    nothing. Every scheduled function also starts its first unit whatever
    this says, so a run always does some bounded work."""
    margin = min(unit_seconds, context.get_remaining_time_in_millis() / 2000)
    return lambda: context.get_remaining_time_in_millis() / 1000 - margin


def utc_iso(moment: datetime) -> str:
    # What strftime('%Y-%m-%dT%H:%M:%S.%fZ') gives a naive UTC moment, at a
    # fraction of its cost: every order answer carries two of them.
    return moment.isoformat(timespec='microseconds') + 'Z'


def monotonic() -> float:
    return time.monotonic()
