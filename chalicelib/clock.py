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


def time_left(context: LambdaContext, margin_seconds: float) -> Callable[[], float]:
    """A function giving the seconds a Lambda invocation may still start work
    in: its remaining time, less a margin for the step it may be in."""
    return lambda: context.get_remaining_time_in_millis() / 1000 - margin_seconds


def utc_iso(moment: datetime) -> str:
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def monotonic() -> float:
    return time.monotonic()
