"""The breaker in front of the request path's SNS calls, on a clock that
moves only when the test says so."""

from chalicelib.events.breaker import CLOSED, HALF_OPEN, OPEN, Breaker

PROBE = 5.0


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def breaker(clock):
    return Breaker(failures=3, probe_seconds=PROBE, monotonic=clock)


def fail(b, times):
    for _ in range(times):
        assert b.allows()
        b.failed()


def test_a_closed_breaker_lets_calls_through_until_three_failures_in_a_row():
    b = breaker(Clock())

    fail(b, 2)

    assert b.state == CLOSED and b.allows()
    b.failed()
    assert b.state == OPEN and not b.allows()


def test_a_success_between_failures_starts_the_count_again():
    b = breaker(Clock())
    fail(b, 2)
    b.succeeded()

    fail(b, 2)

    assert b.state == CLOSED and b.allows()


def test_an_open_breaker_lets_one_probe_through_once_the_period_is_over():
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)

    clock.now += PROBE - 0.001
    assert not b.allows()
    clock.now += 0.001
    assert b.allows()  # the probe
    assert b.state == HALF_OPEN
    assert not b.allows()  # nobody else while the probe is out


def test_a_probe_that_succeeds_closes_the_breaker():
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += PROBE
    assert b.allows()

    b.succeeded()

    assert b.state == CLOSED
    assert all(b.allows() for _ in range(5))
    fail(b, 2)
    assert b.state == CLOSED  # the count starts again from zero


def test_a_probe_that_fails_keeps_the_breaker_open_another_period():
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += PROBE
    assert b.allows()

    b.failed()

    assert b.state == OPEN and not b.allows()
    clock.now += PROBE
    assert b.allows()


def test_a_probe_that_never_reports_back_is_followed_by_another_a_period_later():
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += PROBE
    assert b.allows()

    clock.now += PROBE

    assert b.allows()
