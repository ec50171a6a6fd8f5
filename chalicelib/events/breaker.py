"""The breaker in front of the request path's SNS calls.

After FAILURES failures in a row requests stop calling SNS and hand their
events to the relay, so an SNS outage costs a few requests a second each,
not every request. Every PROBE_SECONDS one call goes through (half-open): a
success closes the breaker, a failure keeps it open another period. A Lambda
copy serves one request at a time, so the breaker is per copy and needs no
lock."""

import time
from collections.abc import Callable

from chalicelib.platform.logs import log

FAILURES = 3
PROBE_SECONDS = 5.0
CLOSED, OPEN, HALF_OPEN = 'closed', 'open', 'half-open'


class Breaker:
    def __init__(
        self,
        failures: int = FAILURES,
        probe_seconds: float = PROBE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_open = failures
        self.probe_seconds = probe_seconds
        self.monotonic = monotonic
        self.state = CLOSED
        self.failures = 0
        self.probe_at = 0.0

    def allows(self) -> bool:
        """May this call go to SNS?"""
        if self.state == CLOSED:
            return True
        now = self.monotonic()
        if now < self.probe_at:
            return False
        # This call is the probe; should it never report back, the next
        # probe goes a period later.
        self.state = HALF_OPEN
        self.probe_at = now + self.probe_seconds
        return True

    def succeeded(self) -> None:
        if self.state != CLOSED:
            log.info('SNS answers again: requests publish their events again')
        self.state = CLOSED
        self.failures = 0

    def failed(self) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.failures_to_open:
            if self.state == CLOSED:
                log.warning(
                    'SNS failed %s times in a row: requests leave their events '
                    'to the relay, one tries again every %s s',
                    self.failures,
                    self.probe_seconds,
                )
            self.state = OPEN
            self.probe_at = self.monotonic() + self.probe_seconds
