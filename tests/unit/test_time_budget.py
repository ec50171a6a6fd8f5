"""How long a scheduled function keeps starting work (clock.time_left): its
margin is what a unit of work may take, but never more than half the time
the invocation was given."""

from chalicelib.core.clock import time_left
from tests.support import LambdaContext


def test_a_long_invocation_keeps_the_whole_margin():
    context = LambdaContext(remaining_ms=60_000)

    assert time_left(context, 30)() == 30


def test_a_short_invocation_keeps_half_its_time_as_the_margin():
    context = LambdaContext(remaining_ms=3_000)  # chalice local, the test client

    left = time_left(context, 30)

    assert left() == 1.5
    context.remaining_ms = 1_400
    assert left() < 0


def test_the_margin_is_fixed_when_the_run_starts():
    context = LambdaContext(remaining_ms=20_000)
    left = time_left(context, 30)

    context.remaining_ms = 12_000

    assert left() == 2
