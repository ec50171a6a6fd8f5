"""The benchmark's answer as markdown (printed and written to
bench/results/latest.md) and JSON."""
from bench.floor import statement_shape

TARGET_RATIO = 2.0
TARGET_LIST_MS = 2.0
TARGET_LIST_ORDERS = 1_000_000
TARGET_COLD_S = 0.3
TARGET_RSS_MB = 80.0
RSS_GROWTH_NOISE_MB = 1.0
BUSY_MACHINE = 0.05  # others using more of the CPUs than this disturb the figures  # allocator and arena noise; more than this is growth

BACKEND_NAMES = {'mariadb': 'MariaDB', 'sqlite': 'SQLite'}


def _ms(value):
    if value is None:
        return '—'
    if value >= 100:
        return f'{value:,.0f}'
    if value >= 10:
        return f'{value:.1f}'
    return f'{value:.3f}' if value < 1 else f'{value:.2f}'


def _rate(value):
    return '—' if value is None else f'{value:,.0f}'


def _ratio(service, floor):
    if not service or not floor or not floor.get('p50_ms'):
        return None
    return service['p50_ms'] / floor['p50_ms']


def _mark(ok):
    return '✓' if ok else '✗'


def _ratio_cell(ratio, info):
    if ratio is None:
        return '—'
    if info:
        return f'{ratio:.2f}×'
    return f'{ratio:.2f}× {_mark(ratio <= TARGET_RATIO)}'


def _shapes(statements):
    return None if statements is None else [statement_shape(sql) for sql in statements]


def statement_mismatch(op):
    """The service's and the floor's statements, when they differ in what
    they do to which table (the floor is out of date then)."""
    service, floor = _shapes(op.get('service_sql')), _shapes(op.get('floor_sql'))
    if service is None or floor is None or service == floor:
        return None
    return service, floor


def _statements(op):
    service, floor = op.get('service_sql'), op.get('floor_sql')
    if service is None and floor is None:
        return '—'
    s = ('?' if op.get('service') else '—') if service is None else str(len(service))
    f = '—' if floor is None else str(len(floor))
    return f'{s} / {f}' + (' ⚠' if statement_mismatch(op) else '')


def backend_table(result):
    lines = [
        '| operation | service p50 | p99 | ops/s | floor p50 | p99 | ops/s '
        '| service / floor (p50) | SQL statements service / floor '
        '| service p50, SNS stub | service / floor, SNS stub ¹ |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: |',
    ]
    for op in result['ops']:
        service, floor, stub = op.get('service'), op.get('floor'), op.get('service_stub')
        info = op.get('info')
        name = f"{op['name']}: {op['label'].replace('|', '/')}"
        if info:
            name = f'*{name}* (not a target, n={op["requests"]:,})'
        lines.append('| ' + ' | '.join([
            name,
            _ms(service and service['p50_ms']), _ms(service and service['p99_ms']),
            _rate(service and service['ops_per_s']),
            _ms(floor and floor['p50_ms']), _ms(floor and floor['p99_ms']),
            _rate(floor and floor['ops_per_s']),
            _ratio_cell(_ratio(service, floor), info),
            _statements(op),
            _ms(stub and stub['p50_ms']),
            _ratio_cell(_ratio(stub, op.get('floor_stub_pass') or floor), info)
            if stub else '—',
        ]) + ' |')
    if any(op.get('floor_stub_pass') for op in result['ops']):
        lines += ['', '¹ against the floor timed again beside the stubbed writes.']
    for op in result['ops']:
        mismatch = statement_mismatch(op)
        if mismatch:
            lines += ['', f"⚠ {op['name']}: the floor no longer issues the service's "
                          f"statements (update bench/floor.py): service "
                          f"{', '.join(mismatch[0])}; floor {', '.join(mismatch[1])}"]
    return '\n'.join(lines)


def cold_table(results):
    lines = ['| backend | bytecode | start → first response | interpreter start '
             '| import app | first request | whole process | modules with a .pyc '
             '(app / site-packages / stdlib) |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |']
    for backend, result in results.items():
        cold = result.get('cold_start')
        if not cold:
            continue
        for mode, label in (('pyc', 'with .pyc'), ('no_pyc', 'without .pyc')):
            c = cold[mode]
            pyc = ' / '.join(f'{n}/{total}' for n, total in
                             (c['pyc'][k] for k in ('app', 'site-packages', 'stdlib')))
            lines.append(
                f'| {BACKEND_NAMES[backend]} | {label} | '
                f'**{c["to_first_response_s"]:.3f} s** | {c["startup_s"]:.3f} s | '
                f'{c["import_s"]:.3f} s | {c["first_request_s"]:.3f} s | '
                f'{c["process_wall_s"]:.3f} s | {pyc} |')
    return '\n'.join(lines)


def rss_at(samples, requests):
    for sample in samples:
        if sample['requests'] == requests:
            return sample['VmRSS']
    return None


def memory_table(results):
    lines = []
    for backend, result in results.items():
        memory = result.get('memory')
        if not memory:
            continue
        samples = memory['samples']
        last = samples[-1]
        middle = rss_at(samples, last['requests'] // 2)
        growth = last['VmRSS'] - middle if middle is not None else None
        if not lines:
            half, full = f"{last['requests'] // 2:,}", f"{last['requests']:,}"
            lines += [f'| backend | after import | after 1st request | after {half} '
                      f'| after {full} | growth {half} → {full} | peak (VmHWM) |',
                      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
        lines.append(
            f'| {BACKEND_NAMES[backend]} | {memory["after_import"]["VmRSS"]:.1f} MiB | '
            f'{samples[0]["VmRSS"]:.1f} MiB | '
            f'{middle:.1f} MiB | **{last["VmRSS"]:.1f} MiB** | {growth:+.2f} MiB | '
            f'{last["VmHWM"]:.1f} MiB |')
    return '\n'.join(lines)


def targets(results, orders):
    """The issue's targets, each with what this run measured."""
    lines = []
    maria = results.get('mariadb')
    if maria and maria.get('ops'):
        for label, key in (('SNS in moto', 'service'), ('SNS stub', 'service_stub')):
            over = []
            for op in maria['ops']:
                if op.get('info'):
                    continue
                if key == 'service_stub' and op.get('service_stub'):
                    ratio = _ratio(op['service_stub'],
                                   op.get('floor_stub_pass') or op.get('floor'))
                else:  # reads publish nothing: their one figure stands for both
                    ratio = _ratio(op.get('service'), op.get('floor'))
                if ratio is not None and ratio > TARGET_RATIO:
                    over.append(f'{op["name"]} {ratio:.2f}×')
            lines.append(f'- {_mark(not over)} MariaDB, {orders:,} orders ({label}): every '
                         f'operation p50 ≤ {TARGET_RATIO:g}× its floor'
                         + (f' — over: {", ".join(over)}' if over else ''))
        listing = next((op for op in maria['ops'] if op['name'] == 'list'), None)
        if listing and listing.get('service'):
            p50 = listing['service']['p50_ms']
            if orders >= TARGET_LIST_ORDERS:
                lines.append(f'- {_mark(p50 <= TARGET_LIST_MS)} MariaDB, {orders:,} orders: '
                             f'list page 1 with its total p50 ≤ {TARGET_LIST_MS:g} ms — '
                             f'{p50:.3f} ms')
            else:
                lines.append(f'- (not at scale) list page 1 p50 {p50:.3f} ms at {orders:,} '
                             f'preloaded orders; the target is for '
                             f'{TARGET_LIST_ORDERS:,} (`--orders {TARGET_LIST_ORDERS}`)')
    for backend, result in results.items():
        cold = result.get('cold_start')
        if cold:
            value = cold['pyc']['to_first_response_s']
            lines.append(f'- {_mark(value <= TARGET_COLD_S)} {BACKEND_NAMES[backend]}: cold '
                         f'start with .pyc ≤ {TARGET_COLD_S:g} s — {value:.3f} s '
                         f'(without .pyc {cold["no_pyc"]["to_first_response_s"]:.3f} s)')
        memory = result.get('memory')
        if memory:
            samples = memory['samples']
            last = samples[-1]
            middle = rss_at(samples, last['requests'] // 2)
            growth = last['VmRSS'] - middle
            ok = last['VmRSS'] <= TARGET_RSS_MB and growth <= RSS_GROWTH_NOISE_MB
            lines.append(f'- {_mark(ok)} {BACKEND_NAMES[backend]}: RSS after '
                         f'{last["requests"]:,} requests ≤ {TARGET_RSS_MB:g} MB and not '
                         f'growing — {last["VmRSS"]:.1f} MiB, {growth:+.2f} MiB from '
                         f'{last["requests"] // 2:,} to {last["requests"]:,} (growth counts '
                         f'above {RSS_GROWTH_NOISE_MB:g} MiB)')
    return '\n'.join(lines)


def render(run):
    env = run['environment']
    args = run['args']
    parts = [
        '# Orders service benchmark',
        '',
        f'{run["finished_at"]} · commit {env["commit"]} · Python {env["python"]} · '
        f'{env["cpus"]} × {env["cpu"]} · {env.get("mariadb") or "MariaDB not used"} · '
        + ', '.join(f'{name} {version}' for name, version in env['packages'].items()),
        '',
        f'`{run["command"]}`',
        '',
        'In process, as Lambda calls it: API Gateway REST (v1 proxy) events into '
        '`app.app(event, context)`. Per operation '
        f'{args["requests"]:,} timed requests after {args["warmup"]:,} warm-up ones; '
        'service and floor alternate in blocks of 50. The floor is the same SQL '
        'statements as bare SQL through the same driver (bench/floor.py). '
        + ('AWS is moto; events are published to SNS in the request. "SNS stub": the '
           "same writes with SNS answered at botocore's HTTP layer (boto3's client cost "
           "stays, moto's goes). " if args.get('sns', 'moto') == 'moto' else
           "Events are published in the request to SNS answered at botocore's HTTP layer "
           "(boto3's client cost, no moto). ")
        + 'Times in ms; ops/s = one process serving one request at a time.',
    ]
    for backend, result in run['results'].items():
        meta = result.get('meta', {})
        parts += ['', f'## {BACKEND_NAMES[backend]}, {args["orders"]:,} orders preloaded', '']
        if meta.get('preload_seconds') is not None:
            parts += [f'Preload: {meta.get("orders_before", 0):,} orders in the table, '
                      f'bulk load {meta["preload_seconds"]:.0f} s; counts rebuilt with '
                      f'`recount()`: {meta.get("recount")}.', '']
        if not result.get('ok'):
            parts += [f'**FAILED:** {result.get("error")}', '']
        if 'interference' in result:
            busy = result['interference']
            parts += [(f'⚠ **Disturbed:** other processes used {busy:.0%} of the CPUs '
                       'during this run; rerun on a quiet machine.' if busy > BUSY_MACHINE
                       else f'Quiet machine: other processes used {busy:.1%} of the CPUs.')
                      + f' Service code {result.get("code")}'
                      + (' — ⚠ **app.py/chalicelib changed during the run**: the figures '
                         'mix two versions.' if result.get('code_changed') else '.'), '']
        if result.get('ops'):
            parts.append(backend_table(result))
    if any(r.get('cold_start') for r in run['results'].values()):
        parts += ['', '## Cold start', '',
                  'A fresh `python` that imports `app` and serves one GET /orders/{id} '
                  '(API Gateway event into `app.app`), median of '
                  f'{args["cold_runs"]}. "start → first response" is from the parent '
                  'starting the process to the answer; "whole process" adds the exit. '
                  'MariaDB with AUTO_MIGRATE off, as deployed; SQLite with its default '
                  '(on). Without .pyc: `python -B` with PYTHONPYCACHEPREFIX holding the '
                  "standard library's .pyc only (see bench/coldstart.py).",
                  '', cold_table(run['results'])]
    if any(r.get('memory') for r in run['results'].values()):
        parts += ['', '## Memory', '',
                  f'One process, {args["rss_requests"]:,} mixed requests (creates, reads, '
                  'lists, a status change, a delete), SNS stubbed at botocore; VmRSS.',
                  '', memory_table(run['results'])]
    parts += ['', '## Targets (issue 7)', '', targets(run['results'], args['orders']), '']
    return '\n'.join(parts)
