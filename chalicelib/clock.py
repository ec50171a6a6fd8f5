"""The one clock of the service: naive UTC datetimes in, ISO 8601 with a Z out.

Naive because both databases store DATETIME without a zone; everything the
service stores or sends is UTC. Code that needs "now" takes a `clock`
argument defaulting to `utcnow`, so tests can hand in a fixed time.
Ages and timeouts (how long a connection sat idle, how old a cached secret
is) use `monotonic`, which tests replace to make time pass."""
import time
from datetime import datetime, UTC


def utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


def time_left(context, margin_seconds):
    """A function giving the seconds a Lambda invocation may still start work
    in: its remaining time, less a margin for the step it may be in."""
    return lambda: context.get_remaining_time_in_millis() / 1000 - margin_seconds


def utc_iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def monotonic():
    return time.monotonic()
