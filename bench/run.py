"""`make bench`: how fast is the service compared with the bare SQL it runs?

For each backend, in a process of its own (bench/worker.py): the service
called in process as Lambda calls it, operation by operation, beside its
floor (the same SQL through the same driver, bench/floor.py); then cold start
(bench/coldstart.py) and memory over 10,000 requests (bench/memory.py).
Prints a markdown report, writes it to bench/results/latest.md and the full
figures as JSON to bench/results/latest.json.

    python bench/run.py                                   # both backends, empty tables
    python bench/run.py --backend mariadb --orders 1000000 --md bench/results/mariadb-1m.md
"""
import argparse
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import report  # noqa: E402
from bench.coldstart import cold_start  # noqa: E402

RESULTS = REPO / 'bench' / 'results'
PACKAGES = ('chalice', 'peewee', 'PyMySQL', 'marshmallow', 'boto3', 'moto')
FAKE_TOPIC = 'arn:aws:sns:us-east-1:123456789012:orders-bench-events'


def log(message):
    sys.stderr.write(message + '\n')
    sys.stderr.flush()


def parse_args(argv):
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--backend', choices=('sqlite', 'mariadb', 'both'), default='both')
    parser.add_argument('--orders', type=int, default=0,
                        help='preload N orders (3 items each) before measuring')
    parser.add_argument('--requests', type=int, default=2000,
                        help='timed requests per operation and side')
    parser.add_argument('--warmup', type=int, default=200,
                        help='untimed requests per operation and side first')
    parser.add_argument('--json', default=str(RESULTS / 'latest.json'))
    parser.add_argument('--md', default=str(RESULTS / 'latest.md'))
    parser.add_argument('--reuse-db', action='store_true',
                        help='MariaDB: keep orders_bench if it exists and only top it '
                             'up to --orders (skips a long preload on reruns)')
    parser.add_argument('--sns', choices=('moto', 'stub'), default='moto',
                        help='SNS for the main pass: moto in process (default), or '
                             "answered at botocore's HTTP layer (no moto)")
    parser.add_argument('--no-stub', action='store_true',
                        help='with --sns moto, skip measuring the writes again with '
                             'SNS stubbed at botocore')
    parser.add_argument('--no-cold-start', action='store_true')
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--cold-runs', type=int, default=5)
    parser.add_argument('--rss-requests', type=int, default=10_000)
    parser.add_argument('--profile', metavar='OPERATION',
                        help="profile the service's side of one operation (e.g. create); "
                             'writes bench/results/profile-<backend>-<op>.txt')
    parser.add_argument('--profiler', choices=('pyinstrument', 'cprofile'),
                        default='pyinstrument')
    parser.add_argument('--mariadb-host', default=env('BENCH_MARIADB_HOST', '127.0.0.1'))
    parser.add_argument('--mariadb-port', type=int,
                        default=int(env('BENCH_MARIADB_PORT', '3306')))
    parser.add_argument('--mariadb-user', default=env('BENCH_MARIADB_USER', 'root'))
    parser.add_argument('--mariadb-password', default=env('BENCH_MARIADB_PASSWORD', ''))
    parser.add_argument('--mariadb-database', default='orders_bench')
    return parser.parse_args(argv)


def mariadb_url(args):
    auth = args.mariadb_user + (f':{args.mariadb_password}' if args.mariadb_password else '')
    return f'mysql://{auth}@{args.mariadb_host}:{args.mariadb_port}/{args.mariadb_database}'


def mariadb_version(args):
    import pymysql
    try:
        conn = pymysql.connect(host=args.mariadb_host, port=args.mariadb_port,
                               user=args.mariadb_user, password=args.mariadb_password,
                               connect_timeout=3)
    except pymysql.err.MySQLError as exc:
        raise SystemExit(f'MariaDB at {args.mariadb_host}:{args.mariadb_port} is '
                         f'unreachable ({exc}); start it or use --backend sqlite')
    with conn.cursor() as cur:
        cur.execute('SELECT VERSION()')
        version = cur.fetchone()[0]
    conn.close()
    return f'MariaDB {version}'


def environment(args, backends):
    def run(*command):
        try:
            return subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ''
    commit = run('git', 'rev-parse', '--short', 'HEAD') or 'unknown'
    if run('git', 'status', '--porcelain', '--', 'app.py', 'chalicelib'):
        commit += ' (with uncommitted changes to app.py/chalicelib)'
    cpu = platform.processor() or 'unknown CPU'
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {'commit': commit, 'python': platform.python_version(), 'cpu': cpu,
            'cpus': os.cpu_count(), 'packages': packages,
            'mariadb': mariadb_version(args) if 'mariadb' in backends else None}


def service_env(backend, url):
    """The environment a deployed copy would have (no moto in these children)."""
    env = {name: value for name, value in os.environ.items()
           if name not in ('AUTO_MIGRATE', 'SES_SENDER_EMAIL', 'DB_HOST', 'DB_SECRET_ARN',
                           'MAIL_DIR', 'SNS_TOPIC_ARN')}
    env.update({'DATABASE_URL': url, 'SNS_TOPIC_ARN': FAKE_TOPIC,
                'AWS_DEFAULT_REGION': 'us-east-1', 'AWS_REGION': 'us-east-1',
                'AWS_ACCESS_KEY_ID': 'testing', 'AWS_SECRET_ACCESS_KEY': 'testing',
                # Should a stub ever miss, SNS is refused locally: never a real call.
                'AWS_ENDPOINT_URL_SNS': 'http://127.0.0.1:9'})
    return env


def code_fingerprint():
    """A hash of the service's code (app.py, chalicelib): another engineer
    editing it during a run would leave figures that mix two versions."""
    digest = hashlib.sha256()
    for path in sorted([REPO / 'app.py', *(REPO / 'chalicelib').rglob('*.py')]):
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _mariadb_pids():
    pids = []
    for comm in Path('/proc').glob('[0-9]*/comm'):
        try:
            if comm.read_text().strip() in ('mariadbd', 'mysqld'):
                pids.append(comm.parent.name)
        except OSError:
            pass
    return pids


def cpu_snapshot():
    """CPU seconds: the whole machine busy (steal included), this process's
    children (the benchmark), and the database server."""
    ticks = os.sysconf('SC_CLK_TCK')
    fields = [int(v) for v in Path('/proc/stat').read_text().split('\n', 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
    server = 0
    for pid in _mariadb_pids():
        try:
            stat = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
            server += int(stat[11]) + int(stat[12])
        except (OSError, IndexError):
            pass
    children = os.times()
    return {'wall': time.monotonic(), 'busy': busy / ticks, 'server': server / ticks,
            'bench': children.children_user + children.children_system}


def interference(before, after):
    """The share of the machine's CPUs used by anything other than the
    benchmark and the database server it talks to (other tests, builds, the
    hypervisor's steal) while a backend was measured."""
    others = ((after['busy'] - before['busy']) - (after['bench'] - before['bench'])
              - (after['server'] - before['server']))
    capacity = (after['wall'] - before['wall']) * (os.cpu_count() or 1)
    return max(0.0, others / capacity) if capacity > 0 else 0.0


def run_worker(args, backend, sqlite_path):
    with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as handle:
        out = handle.name
    command = [sys.executable, '-m', 'bench.worker', '--backend', backend,
               '--orders', str(args.orders), '--requests', str(args.requests),
               '--warmup', str(args.warmup), '--out', out,
               '--mariadb-host', args.mariadb_host, '--mariadb-port', str(args.mariadb_port),
               '--mariadb-user', args.mariadb_user,
               '--mariadb-password', args.mariadb_password,
               '--mariadb-database', args.mariadb_database,
               '--profiler', args.profiler, '--sns', args.sns]
    if sqlite_path:
        command += ['--sqlite-path', sqlite_path]
    if args.reuse_db:
        command.append('--reuse-db')
    if args.no_stub:
        command.append('--no-stub')
    if args.profile:
        command += ['--profile', args.profile]
    completed = subprocess.run(command, cwd=REPO)
    try:
        result = json.loads(Path(out).read_text())
    except (OSError, ValueError):
        result = {'backend': backend, 'ok': False, 'ops': [], 'meta': {},
                  'error': f'the worker exited with {completed.returncode} and no result'}
    finally:
        if os.path.exists(out):
            os.unlink(out)
    return result


def run_memory(args, env):
    with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as handle:
        out = handle.name
    try:
        completed = subprocess.run(
            [sys.executable, '-m', 'bench.memory', '--requests', str(args.rss_requests),
             '--out', out], cwd=REPO, env=dict(env, AUTO_MIGRATE='true'),
            stdout=subprocess.DEVNULL)
        if completed.returncode != 0:
            raise RuntimeError(f'the memory run exited with {completed.returncode}')
        return json.loads(Path(out).read_text())
    finally:
        os.unlink(out)


def main(argv=None):
    args = parse_args(argv)
    backends = ['sqlite', 'mariadb'] if args.backend == 'both' else [args.backend]
    started = time.monotonic()
    env_info = environment(args, backends)
    results = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix='orders-bench-') as scratch:
        for backend in backends:
            log(f'== {backend}: {args.orders:,} orders preloaded, {args.requests:,} '
                f'requests per operation after {args.warmup:,} warm-up')
            sqlite_path = str(Path(scratch) / 'orders.sqlite3') if backend == 'sqlite' else None
            code_before, cpu_before = code_fingerprint(), cpu_snapshot()
            result = run_worker(args, backend, sqlite_path)
            results[backend] = result
            result['interference'] = interference(cpu_before, cpu_snapshot())
            result['code'] = code_fingerprint()
            result['code_changed'] = result['code'] != code_before
            if result['interference'] > report.BUSY_MACHINE:
                log(f'WARNING: other processes used {result["interference"]:.0%} of the '
                    'CPUs during this run: the figures are disturbed')
            if result['code_changed']:
                log('WARNING: app.py/chalicelib changed during this run')
            if not result.get('ok'):
                failed = True
                continue
            if args.profile:
                continue
            url = f'sqlite:///{sqlite_path}' if sqlite_path else mariadb_url(args)
            env = service_env(backend, url)
            try:
                if not args.no_cold_start:
                    log(f'== {backend}: cold start, {args.cold_runs} runs each way')
                    result['cold_start'] = cold_start(env, result['meta']['existing_id'],
                                                      runs=args.cold_runs, log=log)
                if not args.no_memory:
                    log(f'== {backend}: memory over {args.rss_requests:,} requests')
                    result['memory'] = run_memory(args, env)
            except (RuntimeError, subprocess.SubprocessError) as exc:
                failed = True
                result['ok'] = False
                result['error'] = str(exc)
                log(f'{backend}: FAILED: {exc}')
    run = {
        'finished_at': datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'command': ' '.join(['python bench/run.py'] + [
            shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]),
        'seconds': time.monotonic() - started,
        'args': vars(args) | {'mariadb_password': '***' if args.mariadb_password else ''},
        'environment': env_info,
        'results': results,
    }
    markdown = report.render(run)
    print(markdown)
    for path, text in ((args.md, markdown + '\n'),
                       (args.json, json.dumps(run, indent=1, default=str) + '\n')):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    log(f'written: {args.md}, {args.json} ({run["seconds"]:.0f} s)')
    if failed:
        log('FAILED: see the errors above; these figures are not valid')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
