"""Collection is the same whatever the clock says: xdist workers each
collect the suite and refuse to run when their lists differ, so a test id
built from the time at collection fails `make test` at random."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The clock frozen at `when` before pytest imports anything, then the unit
# tests collected: their ids, one a line.
COLLECT = """
import sys, time
when = float(sys.argv[1])
time.time = lambda: when
time.time_ns = lambda: int(when * 1e9)
import pytest
sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests/unit']))
"""


def _collected(when: float) -> list[str]:
    done = subprocess.run(
        [sys.executable, '-c', COLLECT, str(when)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if '::' in line]


@pytest.mark.slow
def test_unit_tests_collect_the_same_ids_at_any_time():
    first = _collected(1_000_000_000.0)

    assert first
    assert _collected(2_000_000_000.0) == first
