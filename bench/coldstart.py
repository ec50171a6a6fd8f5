"""Cold start: a fresh python that imports app and serves one GET /orders/{id}
(an API Gateway event into app.app), timed from the moment the parent starts
it, and the CPU time the child used (user + system: what the machine's load
hardly moves); the median of several runs, with .pyc and without.

With .pyc: app.py and chalicelib are compiled, and one unmeasured run writes
any site-packages .pyc still missing. Without: `python -B` with
PYTHONPYCACHEPREFIX at a directory that holds the standard library's .pyc
only, so app.py, chalicelib and site-packages compile from source in every
run (a package shipped without bytecode) while the standard library keeps its
.pyc, as Lambda's runtime has them. Each run counts how many of the app's and
site-packages' modules it could have loaded from a .pyc: checked, not assumed."""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench.invoke import invocation

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import time
t0 = time.monotonic()
import app
t1 = time.monotonic()
import importlib.util, json, os, sys
context = type('Context', (), {
    'aws_request_id': 'cold-start', 'function_name': 'orders-dev', 'memory_limit_in_mb': 512,
    'invoked_function_arn': 'arn:aws:lambda:us-east-1:123456789012:function:orders-dev',
    'get_remaining_time_in_millis': lambda self: 30000})()
status = app.app(json.loads(os.environ['BENCH_EVENT']), context)['statusCode']
t2 = time.monotonic()
ours = [m.__file__ for m in list(sys.modules.values()) if (getattr(m, '__file__', None) or
        '').endswith('.py') and m.__file__.startswith(os.getcwd())]
spawn = float(os.environ['BENCH_SPAWN'])
with open(os.environ['BENCH_OUT'], 'w') as out:
    json.dump({'status': status, 'first_response': t2 - spawn, 'import': t1 - t0,
               'first_request': t2 - t1, 'modules': len(ours),
               'with_pyc': sum(os.path.exists(importlib.util.cache_from_source(f)) for f in ours)},
              out)
"""


def _run(env, flags=()):
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        spawn = time.monotonic()
        child = subprocess.run(
            [sys.executable, *flags, '-c', CHILD],
            cwd=REPO,
            env=dict(env, BENCH_SPAWN=repr(spawn), BENCH_OUT=out.name),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if child.returncode:
            raise RuntimeError('cold start failed: ' + child.stderr.decode()[-2000:])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = json.loads(Path(out.name).read_text())
    # The CPU the whole child used (its exit included): on a shared machine
    # the wall time grows with the load, this hardly does.
    result['cpu'] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if result['status'] != 200:
        raise RuntimeError(f'the cold start request answered {result["status"]}')
    return result


def measure(env, order_id, runs=5):
    """{'with .pyc': medians, 'without .pyc': medians}; `env` configures the service
    (the app's modules, its venv's site-packages included, live under the repository)."""
    env = dict(
        env, BENCH_EVENT=json.dumps(invocation('GET', '/orders/{order_id}', order_id=order_id)[0])
    )
    subprocess.run(
        [sys.executable, '-m', 'compileall', '-q', 'app.py', 'chalicelib'],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    _run(env)  # writes whatever .pyc is still missing
    prefix = tempfile.mkdtemp(prefix='orders-bench-pycache-')
    try:
        _run(dict(env, PYTHONPYCACHEPREFIX=prefix))  # every .pyc the app loads, in the prefix
        stdlib = Path(prefix) / os.path.realpath(sysconfig.get_paths()['stdlib']).lstrip('/')
        for pyc in Path(prefix).rglob('*.pyc'):
            if stdlib not in pyc.parents or 'site-packages' in pyc.parts:
                pyc.unlink()  # the standard library's .pyc only
        modes = {
            'with .pyc': (env, ()),
            'without .pyc': (dict(env, PYTHONPYCACHEPREFIX=prefix), ('-B',)),
        }
        results = {}
        for mode, (mode_env, flags) in modes.items():
            samples = [_run(mode_env, flags) for _ in range(runs)]
            results[mode] = {
                key: statistics.median(s[key] for s in samples)
                for key in ('first_response', 'import', 'first_request', 'cpu')
            }
            results[mode]['pyc'] = f'{samples[-1]["with_pyc"]}/{samples[-1]["modules"]}'
        return results
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
