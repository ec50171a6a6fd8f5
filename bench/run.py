"""`make bench` (python -m bench.run): how fast the order service is, per backend.

    bench/latency.py    each operation in process, beside its floor: the
                        service's own statements on the bare driver
    bench/coldstart.py  a fresh python importing app and serving one request
    bench/memory.py     the resident memory of one process over 10,000 requests
    bench/preload.py    --orders N: bulk-loaded orders, then the service's recount()
    bench/contention.py MariaDB: 1, 2, 4, 8 copies creating orders at once, on one
                        hot tracked product and spread over many

SQLite runs on a temporary file; MariaDB on the database of --mariadb-url
(orders_bench), dropped and created unless --reuse-db. The report is markdown,
printed, and written to --out if given. The machine is shared and figures
taken under load are noisy: beside each set of figures, the load averages and
the share of the CPUs other processes used meanwhile.

    make bench BENCH_ARGS="--backend mariadb --orders 1000000 --reuse-db"
    make bench BENCH_ARGS="--backend sqlite --sns stub --profile create"
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench import coldstart, contention
from bench.breakdown import CATEGORIES
from chalicelib.platform.config import parse_database_url

REPO = Path(__file__).resolve().parent.parent
NAMES = {'sqlite': 'SQLite', 'mariadb': 'MariaDB'}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('--backend', choices=('sqlite', 'mariadb', 'both'), default='both')
    parser.add_argument('--orders', type=int, default=0, help='preload N orders first')
    parser.add_argument('--requests', type=int, default=2000, help='timed, per operation')
    parser.add_argument('--warmup', type=int, default=200, help='untimed, per operation')
    parser.add_argument(
        '--sns',
        choices=('moto', 'stub'),
        default='moto',
        help="SNS in moto, or answered at botocore's HTTP layer",
    )
    parser.add_argument(
        '--profile',
        metavar='OPERATION',
        help="cProfile the service's side of one operation, on stderr",
    )
    parser.add_argument(
        '--breakdown',
        type=int,
        default=200,
        metavar='N',
        help="per operation, N more requests with the breakdown's timers (0: none)",
    )
    parser.add_argument(
        '--pause',
        type=float,
        default=0,
        metavar='MS',
        help='an untimed pause after each call, as between the invocations of a Lambda copy',
    )
    parser.add_argument('--cold-runs', type=int, default=5)
    parser.add_argument('--rss-requests', type=int, default=10_000)
    parser.add_argument('--no-cold-start', action='store_true')
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--no-contention', action='store_true')
    parser.add_argument(
        '--contention-requests',
        type=int,
        default=200,
        help='orders each copy creates, per contention run',
    )
    parser.add_argument(
        '--reuse-db',
        action='store_true',
        help='MariaDB: keep the database, only top it up to --orders',
    )
    parser.add_argument(
        '--mariadb-url',
        default=os.environ.get('BENCH_MARIADB_URL', 'mysql://root@127.0.0.1:3306/orders_bench'),
    )
    parser.add_argument('--out', help='also write the report to this file')
    return parser.parse_args(argv)


def prepare_mariadb(url, reuse):
    """(Re)create the bench database, and only one whose name says bench; the server version."""
    import pymysql

    db = parse_database_url(url)
    if 'bench' not in db.name:
        raise SystemExit(f'--mariadb-url: {db.name!r} is not a bench database')
    conn = pymysql.connect(
        host=db.host, port=db.port, user=db.user, password=db.password, autocommit=True
    )
    with conn.cursor() as cur:
        if not reuse:
            cur.execute(f'DROP DATABASE IF EXISTS `{db.name}`')
        cur.execute(f'CREATE DATABASE IF NOT EXISTS `{db.name}` CHARACTER SET utf8mb4')
        cur.execute('SELECT VERSION()')
        version = cur.fetchone()[0]
    conn.close()
    return version


WEBHOOK_SECRET = 'whsec_bench'


def trust_a_bench_issuer(scratch):
    """Every request carries a staff token of an issuer of the bench's own,
    which the service under test trusts (keys read from a file, as a JWKS of
    the issuer's would be over https in AWS): the token is verified on every
    request, as in production. Set in this process's environment, so that
    invoke.invocation() here and in every child sends it."""
    from chalicelib.identity.dev_issuer import DevIssuer

    issuer = DevIssuer(f'{scratch}/issuer')
    auth = issuer.auth_settings()
    os.environ.update(
        AUTH_ISSUER=auth.issuer,
        AUTH_AUDIENCE=','.join(auth.audiences),
        AUTH_JWKS_URL=auth.jwks_url,
        BENCH_TOKEN=issuer.mint(role='staff'),
    )
    # Webhooks are signed with this secret (bench/latency.py); no Stripe call
    # is made: the key only has to be there.
    os.environ.update(STRIPE_API_KEY='sk_test_bench', STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)


def service_env(url, scratch, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            'AUTO_MIGRATE',
            'DB_HOST',
            'DB_SECRET_ARN',
            'SES_SENDER_EMAIL',
            'PYTHONDONTWRITEBYTECODE',
            'PYTHONPYCACHEPREFIX',
        )
    }
    return dict(
        env,
        DATABASE_URL=url,
        DB_SSL_CA='off',  # the bench's MariaDB speaks no TLS
        MAIL_DIR=f'{scratch}/mail',
        SNS_TOPIC_ARN='arn:aws:sns:us-east-1:123456789012:orders-bench-events',
        AWS_DEFAULT_REGION='us-east-1',
        AWS_REGION='us-east-1',
        AWS_ACCESS_KEY_ID='testing',
        AWS_SECRET_ACCESS_KEY='testing',
        **extra,
    )


def deployed_env(env):
    """The service's environment as the dev stage's Lambda has it
    (.chalice/config.json, and what Lambda sets): a MySQL URL (the bench's
    MariaDB, where AWS reads a secret), an SNS topic, AUTO_MIGRATE off, and
    Powertools configured: its service name, and tracing on (LAMBDA_TASK_ROOT
    and a trace header: the Tracer and the X-Ray SDK are built, segments go to
    a daemon nobody runs, over UDP)."""
    return dict(
        env,
        ENVIRONMENT='dev',
        LOG_LEVEL='INFO',
        AUTO_MIGRATE='false',
        POWERTOOLS_SERVICE_NAME='orders',
        LAMBDA_TASK_ROOT=str(REPO),
        AWS_LAMBDA_FUNCTION_NAME='orders-dev',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE='512',
        AWS_EXECUTION_ENV='AWS_Lambda_python3.11',
        _X_AMZN_TRACE_ID='Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1',
    )


def in_own_python(module, env, **options):
    """bench.<module>.main(**options) in a fresh python (module state, memory of
    its own); the service's log lines go to /dev/null, as to Lambda's stdout."""
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        if subprocess.run(
            [sys.executable, '-m', f'bench.{module}', json.dumps(options), out.name],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
        ).returncode:
            raise SystemExit(f'bench/{module}.py failed (above): no figures')
        return json.load(open(out.name))


def _cpu_seconds(with_server):
    """(The machine's busy CPU seconds, ours: this process's children's and,
    on MariaDB, the server's.)"""
    fields = [int(v) for v in Path('/proc/stat').read_text().split('\n', 1)[0].split()[1:]]
    ticks, times = os.sysconf('SC_CLK_TCK'), os.times()
    ours = times.children_user + times.children_system
    for stat in Path('/proc').glob('[0-9]*/stat') if with_server else ():
        try:
            text = stat.read_text()
        except OSError:
            continue
        if '(mariadbd)' in text or '(mysqld)' in text:
            ours += sum(int(v) for v in text.rsplit(')', 1)[1].split()[11:13]) / ticks
    return time.monotonic(), (sum(fields[:8]) - fields[3] - fields[4]) / ticks, ours


class Load:
    """`with Load(...) as load:` a measurement; then load.text says how busy the machine was."""

    def __init__(self, with_server):
        self.with_server = with_server

    def __enter__(self):
        self.before = os.getloadavg(), _cpu_seconds(self.with_server)
        return self

    def __exit__(self, *exc):
        (load0, (t0, busy0, ours0)), (t1, busy1, ours1) = (
            self.before,
            _cpu_seconds(self.with_server),
        )
        others = max(0.0, busy1 - busy0 - (ours1 - ours0)) / ((t1 - t0) * os.cpu_count())
        averages = [' '.join(f'{v:.2f}' for v in load) for load in (load0, os.getloadavg())]
        self.text = (
            f'load averages (uptime; 1, 5, 15 min) {averages[0]} before, {averages[1]} '
            f'after; other processes used {others:.0%} of the {os.cpu_count()} CPUs'
        )


def ms(value):
    return f'{value:.3f}' if value < 1 else f'{value:.2f}' if value < 10 else f'{value:.1f}'


def table(head, rows):
    return '\n'.join(
        ['| ' + ' | '.join(head) + ' |', '| --- |' + ' ---: |' * (len(head) - 1)]
        + ['| ' + ' | '.join(row) + ' |' for row in rows]
    )


def latency_table(ops):
    return table(
        [
            'operation',
            'service p50',
            'p99',
            'ops/s',
            'floor p50',
            'p99',
            'ops/s',
            'service / floor',
            'SQL statements',
        ],
        [
            [
                f'{op["name"]}: {op["label"]}',
                *(
                    cell
                    for side in ('service', 'floor')
                    for cell in (
                        ms(op[side]['p50']),
                        ms(op[side]['p99']),
                        f'{op[side]["ops"]:,.0f}',
                    )
                ),
                f'{op["service"]["p50"] / op["floor"]["p50"]:.2f}×',
                str(op['statements']),
            ]
            for op in ops
        ],
    )


BREAKDOWN_TEXT = (
    "Where the service's time goes (bench/breakdown.py): %d more requests per operation "
    'with a timer around each kind of work, each followed by a call of the floor; ms per '
    'request, the mean of the middle half of them (by total: the categories add up), the '
    "floor's the same way; the timers add a few µs. "
    'routing: Chalice, the middleware, the views; domain: the services; binding: values '
    'bound to SQL and rows turned into models; SQL: statements (and BEGIN) on the driver; '
    'mark: marking the event published after SNS took it.'
)


def breakdown_table(ops):
    return table(
        ['operation', *CATEGORIES, 'total', 'floor', 'total / floor'],
        [
            [
                op['name'],
                *(ms(op['breakdown'][category]) for category in CATEGORIES),
                f'**{ms(op["breakdown"]["total"])}**',
                ms(op['breakdown']['floor']),
                f'{op["breakdown"]["total"] / op["breakdown"]["floor"]:.2f}×',
            ]
            for op in ops
        ],
    )


def header(args, argv, mariadb):
    commit = subprocess.run(
        ['git', 'describe', '--always', '--dirty'], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    cpu = next(
        (
            line.split(':', 1)[1].strip()
            for line in Path('/proc/cpuinfo').read_text().splitlines()
            if line.startswith('model name')
        ),
        platform.processor(),
    )
    versions = ', '.join(
        f'{name} {metadata.version(name)}'
        for name in ('chalice', 'peewee', 'PyMySQL', 'marshmallow', 'boto3', 'moto')
    )
    sns = (
        'SNS in moto, in process'
        if args.sns == 'moto'
        else "SNS answered at botocore's HTTP layer (boto3's cost, not moto's)"
    )
    return [
        '# Orders service benchmark',
        '',
        f'{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {commit} · Python '
        f'{platform.python_version()} · {os.cpu_count()} × {cpu} · '
        f'{"MariaDB " + mariadb if mariadb else "no MariaDB"} · {versions}',
        '',
        f'`{" ".join(["python -m bench.run", *argv])}`',
        '',
        'In process, as Lambda calls it: API Gateway REST (v1 proxy) events into '
        f'`app.app(event, context)`, {args.requests:,} timed requests per operation after '
        f'{args.warmup:,} warm-up ones; {sns}, published in the request. The floor: the '
        'statements of chalicelib/storage/statements.py that the service runs for the '
        'operation (the same SQL, checked), bound by them and executed on the bare driver '
        'connection; the two alternate in blocks of 50. Times in ms; ops/s: one process '
        'serving one request at a time.',
    ]


def cold_rows(name, modes):
    return [
        [
            name,
            mode,
            f'**{c["first_response"]:.3f} s**',
            f'{c["cpu"]:.3f} s',
            f'{c["import"]:.3f} s',
            f'{c["first_request"]:.3f} s',
            c['pyc'],
        ]
        for mode, c in modes.items()
    ]


def memory_row(name, m):
    return [
        name,
        f'{m["after_import"]:.1f} MiB',
        f'{m["first"]:.1f} MiB',
        f'{m["half"]:.1f} MiB',
        f'**{m["last"]:.1f} MiB**',
        f'{m["last"] - m["half"]:+.2f} MiB',
        f'{m["peak"]:.1f} MiB',
    ]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    backends = ['sqlite', 'mariadb'] if args.backend == 'both' else [args.backend]
    mariadb = prepare_mariadb(args.mariadb_url, args.reuse_db) if 'mariadb' in backends else None
    report, cold, memory, loads = header(args, argv, mariadb), [], [], []
    with tempfile.TemporaryDirectory(prefix='orders-bench-') as scratch:
        trust_a_bench_issuer(scratch)
        for backend in backends:
            name = NAMES[backend]
            url = f'sqlite:///{scratch}/orders.sqlite3' if backend == 'sqlite' else args.mariadb_url
            sys.stderr.write(f'== {backend}: each operation beside its floor\n')
            with Load(backend == 'mariadb') as load:
                result = in_own_python(
                    'latency',
                    service_env(url, scratch, AUTO_MIGRATE='true'),
                    requests=args.requests,
                    warmup=args.warmup,
                    orders=args.orders,
                    sns=args.sns,
                    profile=args.profile,
                    breakdown=args.breakdown,
                    pause_ms=args.pause,
                )
            report += [
                '',
                f'## {name}, {result["orders"]:,} orders in the table',
                '',
                f'Load: {load.text}.',
                '',
            ]
            if result['preload_seconds'] is not None:
                report += [
                    f'Preloaded in {result["preload_seconds"]:.0f} s, then counts '
                    'rebuilt with `chalicelib.orders.counts.recount()`.',
                    '',
                ]
            report.append(latency_table(result['ops']))
            if args.breakdown:
                report += ['', BREAKDOWN_TEXT % args.breakdown, '', breakdown_table(result['ops'])]
            if backend == 'mariadb' and not args.no_contention:
                sys.stderr.write('== mariadb: copies creating at once\n')
                env = service_env(url, scratch, AWS_ENDPOINT_URL_SNS='http://127.0.0.1:9')
                with Load(True) as load:
                    runs = contention.main(env, url, args.contention_requests)
                report += [
                    '',
                    '## MariaDB, copies creating orders at once',
                    '',
                    f'Each copy a python of its own creating {args.contention_requests} '
                    'orders back to back, one line of a tracked product priced by the '
                    'catalog, SNS stubbed: all on one hot product, then spread over '
                    f'{contention.SPREAD:,}. orders/s: all copies together, from the '
                    'first start to the last answer; p50/p99: one request, in ms.',
                    '',
                    f'Load: {load.text}.',
                    '',
                    table(
                        [
                            'products',
                            'copies',
                            'orders',
                            'created',
                            'other answers',
                            'orders/s',
                            'p50',
                            'p99',
                        ],
                        [
                            [
                                r['mode'],
                                str(r['processes']),
                                str(r['orders']),
                                str(r['created']),
                                ', '.join(map(str, r['other'])) or '-',
                                f'{r["orders_per_s"]:,.0f}',
                                ms(r['p50']),
                                ms(r['p99']),
                            ]
                            for r in runs
                        ],
                    ),
                ]
            # Without moto: an AWS call that escapes the stub is refused locally.
            env = service_env(url, scratch, AWS_ENDPOINT_URL_SNS='http://127.0.0.1:9')
            with Load(backend == 'mariadb') as load:
                if not args.no_cold_start:
                    sys.stderr.write(f'== {backend}: cold start\n')
                    cold += cold_rows(
                        name, coldstart.measure(env, result['existing_id'], args.cold_runs)
                    )
                    if backend == 'mariadb':
                        sys.stderr.write('== mariadb: cold start, deployed settings\n')
                        cold += cold_rows(
                            f'{name}, deployed settings',
                            coldstart.measure(
                                deployed_env(env), result['existing_id'], args.cold_runs
                            ),
                        )
                if not args.no_memory:
                    sys.stderr.write(f'== {backend}: memory\n')
                    memory.append(
                        memory_row(
                            name,
                            in_own_python(
                                'memory', dict(env, AUTO_MIGRATE='true'), requests=args.rss_requests
                            ),
                        )
                    )
            loads.append(f'- {name}: {load.text}.')
    if cold:
        report += [
            '',
            '## Cold start',
            '',
            'A fresh `python` imports `app` and serves one GET /orders/{id}: median of '
            f'{args.cold_runs}, from the parent starting it to the answer. MariaDB with '
            'AUTO_MIGRATE off, as deployed; SQLite with its default (on). MariaDB, deployed '
            "settings: the dev stage's Lambda environment besides (ENVIRONMENT=dev, Powertools' "
            'service name, tracing on: the Tracer and the X-Ray SDK built; bench/run.py '
            'deployed_env). Without .pyc: '
            "`python -B`, a PYTHONPYCACHEPREFIX holding the standard library's only.",
            '',
            table(
                [
                    'backend',
                    'bytecode',
                    'start → first response',
                    'CPU (user + sys)',
                    'import app',
                    'first request',
                    'app + site-packages modules with a .pyc',
                ],
                cold,
            ),
        ]
    if memory:
        half, full = f'{args.rss_requests // 2:,}', f'{args.rss_requests:,}'
        report += [
            '',
            '## Memory',
            '',
            f'One process, {full} mixed requests, SNS stubbed; VmRSS.',
            '',
            table(
                [
                    'backend',
                    'after import',
                    'after 1st request',
                    f'after {half}',
                    f'after {full}',
                    f'growth {half} → {full}',
                    'peak (VmHWM)',
                ],
                memory,
            ),
        ]
    if cold or memory:
        report += ['', 'Load during cold start and memory:', '', *loads]
    text = '\n'.join(report) + '\n'
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
