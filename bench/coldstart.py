"""Cold start: a fresh Python process that imports `app` and serves one
request (GET /orders/{id}, an API Gateway event into app.app), timed from the
moment the parent starts it; the median of several runs, with and without
.pyc files.

With .pyc: app.py and chalicelib are compiled (compileall) and one unmeasured
run writes whatever site-packages module still lacked its .pyc.

Without .pyc: `python -B` with PYTHONPYCACHEPREFIX pointing at a directory
that holds .pyc files for the standard library only. With a prefix set,
Python reads bytecode from the prefix and nowhere else (the __pycache__
folders beside the sources are ignored), and -B writes nothing, so app.py,
chalicelib and every site-packages module are compiled from source in every
run, as in a deployment package shipped without bytecode; the standard
library keeps its .pyc, as Lambda's runtime has them. Each child counts, for
the modules it loaded, how many had a .pyc to load, so the claim is checked,
not assumed."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench.events import rest_event
from bench.stats import median

REPO = Path(__file__).resolve().parent.parent

CHILD = r'''
import time
_t0 = time.perf_counter(); _m0 = time.monotonic()
import os, sys, json
import app
_t1 = time.perf_counter()
class Context:
    aws_request_id = 'cold-start-0001'
    function_name = 'orders-dev'
    memory_limit_in_mb = 512
    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:orders-dev'
    log_group_name = '/aws/lambda/orders-dev'
    log_stream_name = 'cold'
    def get_remaining_time_in_millis(self):
        return 30000
_response = app.app(json.loads(os.environ['BENCH_EVENT']), Context())
_t2 = time.perf_counter(); _m2 = time.monotonic()
import importlib.util, sysconfig
_stdlib = os.path.realpath(sysconfig.get_paths()['stdlib'])
_repo = os.path.realpath(os.getcwd())
_counts = {'app': [0, 0], 'site-packages': [0, 0], 'stdlib': [0, 0]}
for _module in list(sys.modules.values()):
    _file = getattr(_module, '__file__', None)
    _spec = getattr(_module, '__spec__', None)
    if not _file or not _file.endswith('.py') or getattr(_spec, 'origin', '') == 'frozen':
        continue  # frozen modules come from the interpreter itself, no .pyc involved
    _file = os.path.realpath(_file)
    if 'site-packages' in _file:
        _kind = 'site-packages'
    elif _file.startswith(_stdlib):
        _kind = 'stdlib'
    elif _file.startswith(_repo):
        _kind = 'app'
    else:
        continue
    _counts[_kind][1] += 1
    _counts[_kind][0] += os.path.exists(importlib.util.cache_from_source(_file))
_spawn = float(os.environ['BENCH_SPAWN'])
with open(os.environ['BENCH_OUT'], 'w') as _out:
    json.dump({'status': _response['statusCode'],
               'startup_s': _m0 - _spawn, 'import_s': _t1 - _t0,
               'first_request_s': _t2 - _t1, 'to_first_response_s': _m2 - _spawn,
               'pyc': _counts, 'modules': len(sys.modules)}, _out)
'''


def _run_child(python, env, extra_flags=(), timeout=60):
    with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as handle:
        out = handle.name
    try:
        spawn = time.monotonic()
        child_env = dict(env, BENCH_SPAWN=repr(spawn), BENCH_OUT=out)
        completed = subprocess.run([python, *extra_flags, '-c', CHILD], cwd=REPO,
                                   env=child_env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=timeout)
        wall = time.monotonic() - spawn
        if completed.returncode != 0:
            raise RuntimeError('cold-start child failed: '
                               + completed.stderr.decode(errors='replace')[-2000:])
        result = json.loads(Path(out).read_text())
    finally:
        os.unlink(out)
    result['process_wall_s'] = wall
    if result['status'] != 200:
        raise RuntimeError(f'cold-start request answered {result["status"]}')
    return result


def _stdlib_only_prefix(python, env):
    """A pycache prefix holding .pyc files for the standard library only:
    one run fills it with everything the app imports, then every file that
    does not belong to the standard library is removed."""
    prefix = Path(tempfile.mkdtemp(prefix='orders-bench-pycache-'))
    _run_child(python, dict(env, PYTHONPYCACHEPREFIX=str(prefix)))
    stdlib = Path(os.path.realpath(sysconfig.get_paths()['stdlib']))
    keep = prefix / stdlib.relative_to(stdlib.anchor)
    for path in sorted(prefix.rglob('*.pyc')):
        inside_stdlib = keep in path.parents and 'site-packages' not in path.parts
        if not inside_stdlib:
            path.unlink()
    return prefix


def cold_start(env, order_id, runs=5, python=sys.executable, log=print):
    """Median cold start with and without .pyc; `env` configures the service."""
    event = rest_event('GET', '/orders/{order_id}', f'/orders/{order_id}',
                       path_parameters={'order_id': str(order_id)},
                       request_id='cold-start-0001')
    env = {name: value for name, value in env.items()
           if name not in ('PYTHONDONTWRITEBYTECODE', 'PYTHONPYCACHEPREFIX')}
    env['BENCH_EVENT'] = json.dumps(event)
    results = {}

    subprocess.run([python, '-m', 'compileall', '-q', 'app.py', 'chalicelib'],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    _run_child(python, env)  # writes any .pyc still missing
    prefix = _stdlib_only_prefix(python, env)
    try:
        modes = {
            'pyc': (env, ()),
            'no_pyc': (dict(env, PYTHONPYCACHEPREFIX=str(prefix)), ('-B',)),
        }
        for mode, (mode_env, flags) in modes.items():
            samples = [_run_child(python, mode_env, flags) for _ in range(runs)]
            summary = {key: median([s[key] for s in samples])
                       for key in ('startup_s', 'import_s', 'first_request_s',
                                   'to_first_response_s', 'process_wall_s')}
            summary['pyc'] = samples[-1]['pyc']
            summary['modules'] = samples[-1]['modules']
            summary['runs'] = samples
            results[mode] = summary
            log(f'  cold start ({mode}): first response after '
                f'{summary["to_first_response_s"] * 1000:.0f} ms '
                f'(import {summary["import_s"] * 1000:.0f} ms, first request '
                f'{summary["first_request_s"] * 1000:.0f} ms); .pyc loaded: '
                + ', '.join(f'{kind} {n}/{total}'
                            for kind, (n, total) in summary['pyc'].items()))
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
    return results
