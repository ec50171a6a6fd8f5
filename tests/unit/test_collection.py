"""Collection is the same whatever the clock says: xdist workers each
collect the suite and refuse to run when their lists differ, so a test id
built from the time at collection fails `make test` at random."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# In one process: the clock frozen at each `when` in turn, and the unit tests
# collected under it, their ids one a line after a `== when` line. Between
# the two, every module of this repository (app, chalicelib, tests, tools) is
# forgotten, so the second collection imports them all again and runs their
# module-level code under the second clock, as a fresh process would; the
# libraries (pytest, hypothesis, boto3, ...) stay loaded, which halves the
# cost of collecting twice.
COLLECT = """
import os, sys, time
root = os.getcwd() + os.sep
venvs = tuple(os.path.join(root, name) + os.sep for name in ('.venv', '.venv-tools'))
import pytest

def ours(module):
    path = getattr(module, '__file__', None) or ''
    return path.startswith(root) and not path.startswith(venvs)

for when in map(float, sys.argv[1:]):
    time.time = lambda when=when: when
    time.time_ns = lambda when=when: int(when * 1e9)
    for name in [name for name, module in list(sys.modules.items()) if ours(module)]:
        del sys.modules[name]
    print('==', when, flush=True)
    code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests/unit'])
    sys.stdout.flush()
    if code:
        sys.exit(code)
"""


def _collected(*whens: float) -> list[list[str]]:
    done = subprocess.run(
        [sys.executable, '-c', COLLECT, *map(str, whens)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    runs: list[list[str]] = []
    for line in done.stdout.splitlines():
        if line.startswith('== '):
            runs.append([])
        elif '::' in line:
            runs[-1].append(line)
    assert len(runs) == len(whens), done.stdout
    return runs


@pytest.mark.slow
def test_unit_tests_collect_the_same_ids_at_any_time():
    first, second = _collected(1_000_000_000.0, 2_000_000_000.0)

    assert first
    assert second == first
