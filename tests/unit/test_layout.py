"""The layers, lowest first; a module imports only its own floor or below:

    1 ground     core/ (pure: clock, errors, ids, inputs, lazy, money)
                 < platform/ (config, aws, logs, metrics, tracing)
    2 identity   identity/
    3 storage    storage/ (never a domain package)
    4 events     events/ (never orders)
    5 domain     catalog/ < orders/ < payments/ < returns/ (each may use the ones before it)
    6 notify     notify/
    7 wiring     wiring/ (runtime, cli)
    8 HTTP       api/ (and app.py): the only floor that imports chalice

and the pure rules import nothing from storage, HTTP or AWS, directly or
through another module of the service. Every import counts, a lazy one inside
a function too: it is a dependency all the same. Read from the source (AST),
so no module is imported to check it."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Most specific prefix wins.
FLOORS = {
    'chalicelib.core': 1.0,
    'chalicelib.platform': 1.1,
    'chalicelib.identity': 2,
    'chalicelib.storage': 3,
    'chalicelib.events': 4,
    'chalicelib.catalog': 5.0,
    'chalicelib.orders': 5.1,
    'chalicelib.payments': 5.2,
    'chalicelib.returns': 5.3,
    'chalicelib.notify': 6,
    'chalicelib.wiring': 7,
    'chalicelib.api': 8,
    'app': 8,
}
HTTP = 8
PURE = [
    'chalicelib.core.clock',
    'chalicelib.core.errors',
    'chalicelib.core.ids',
    'chalicelib.core.inputs',
    'chalicelib.core.lazy',
    'chalicelib.core.paging',
    'chalicelib.orders.lifecycle',
    'chalicelib.orders.commands',
    'chalicelib.catalog.commands',
    'chalicelib.payments.commands',
    'chalicelib.core.money',
    'chalicelib.orders.access',
    'chalicelib.catalog.access',
    'chalicelib.payments.access',
    'chalicelib.orders.export',
    'chalicelib.orders.paging',
    'chalicelib.events.messages',
    'chalicelib.events.breaker',
    'chalicelib.identity.tokens',
    'chalicelib.orders.changes',
    'chalicelib.catalog.pricing',
    'chalicelib.catalog.stock_rules',
    'chalicelib.orders.payment',
    'chalicelib.payments.rules',
    'chalicelib.orders.totals',
    'chalicelib.returns.commands',
    'chalicelib.returns.access',
    'chalicelib.returns.rules',
]
FORBIDDEN_IN_PURE = (
    'peewee',
    'pymysql',
    'boto3',
    'botocore',
    'chalice',
    'chalicelib.storage',
    'chalicelib.platform.aws',
    'chalicelib.wiring',
    'chalicelib.api',
)


def path_of(module):
    path = ROOT / (module.replace('.', '/') + '.py')
    return path if path.exists() else ROOT / module.replace('.', '/') / '__init__.py'


def is_ours(name):
    return name.startswith('chalicelib.') and path_of(name).exists()


def modules():
    return sorted(
        '.'.join(path.relative_to(ROOT).with_suffix('').parts).removesuffix('.__init__')
        for path in (ROOT / 'chalicelib').rglob('*.py')
    )


def imports_in(source):
    """What a source text imports: `from a.b import c` is a.b.c when that is
    a module of ours (a.b is then only the package on the way), else a.b;
    lazy_import('a.b') is a.b."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == 'lazy_import'
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                name = f'{node.module}.{alias.name}'
                names.add(name if is_ours(name) else node.module)
    return names


def imports_of(module):
    return imports_in(path_of(module).read_text())


def within(name, prefix):
    return name == prefix or name.startswith(prefix + '.')


def floor_of(module):
    prefixes = [prefix for prefix in FLOORS if within(module, prefix)]
    return FLOORS[max(prefixes, key=len)] if prefixes else None


def reachable(module):
    seen, todo = set(), [module]
    while todo:
        for name in imports_of(todo.pop()):
            if name not in seen:
                seen.add(name)
                if is_ours(name):
                    todo.append(name)
    return seen


# app.py is read too: it stands on the HTTP floor with api/.
LAYERED = [*(module for module in modules() if module != 'chalicelib'), 'app']


@pytest.mark.parametrize('module', LAYERED)
def test_every_module_has_a_floor(module):
    assert floor_of(module) is not None, f'{module}: add it to FLOORS'


@pytest.mark.parametrize('module', LAYERED)
def test_a_module_imports_only_its_own_floor_or_below(module):
    floor = floor_of(module)
    above = sorted(
        f'{name} (floor {floor_of(name)})'
        for name in imports_of(module)
        if is_ours(name) and floor_of(name) is not None and floor_of(name) > floor
    )

    assert above == [], f'{module} (floor {floor}) imports from above'


def test_storage_never_imports_a_domain_package():
    domain = [prefix for prefix, floor in FLOORS.items() if 5 <= floor < 6]
    bad = sorted(
        f'{module} -> {name}'
        for module in LAYERED
        if within(module, 'chalicelib.storage')
        for name in imports_of(module)
        if is_ours(name) and floor_of(name) != 1 and any(within(name, prefix) for prefix in domain)
    )

    assert bad == []


def test_events_never_import_orders():
    bad = sorted(
        f'{module} -> {name}'
        for module in LAYERED
        if within(module, 'chalicelib.events')
        for name in imports_of(module)
        if is_ours(name) and floor_of(name) != 1 and within(name, 'chalicelib.orders')
    )

    assert bad == []


@pytest.mark.parametrize('module', [m for m in LAYERED if floor_of(m) < HTTP])
def test_nothing_below_the_http_floor_imports_chalice_or_the_api(module):
    bad = sorted(
        name
        for name in imports_of(module)
        if within(name, 'chalice') or within(name, 'chalicelib.api')
    )

    assert bad == []


@pytest.mark.parametrize('module', PURE)
def test_pure_rules_import_no_storage_http_or_aws(module):
    assert path_of(module).exists(), f'{module} is gone: update PURE'
    bad = sorted(
        name
        for name in reachable(module)
        if any(within(name, forbidden) for forbidden in FORBIDDEN_IN_PURE)
    )

    assert bad == []


def test_a_lazy_import_from_above_is_seen():
    """The checks above can fail: an import inside a function counts."""
    names = imports_in(
        'def lazy():\n    from chalicelib.orders import service, lifecycle\n'
        '    from chalice import Response\n'
        "schemas = lazy_import('chalicelib.orders.schemas')\n"
    )

    assert names == {
        'chalicelib.orders.service',
        'chalicelib.orders.lifecycle',
        'chalice',
        'chalicelib.orders.schemas',
    }
    assert [
        name
        for name in sorted(names)
        if is_ours(name) and floor_of(name) > floor_of('chalicelib.storage.fields')
    ] == ['chalicelib.orders.lifecycle', 'chalicelib.orders.schemas', 'chalicelib.orders.service']


def sql_in(module):
    """The string constants of a module, its docstrings left out."""
    tree = ast.parse(path_of(module).read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_statement_machinery_spells_no_domain_sql():
    """Each domain keeps its SQL beside it (its queries module); storage binds
    and runs it and names no table or status of theirs."""
    from chalicelib.orders.lifecycle import STATUSES
    from chalicelib.storage.models import MODELS

    words = {*STATUSES, *(model._meta.table_name for model in MODELS)}
    spelled = sorted(
        word
        for text in sql_in('chalicelib.storage.statements')
        for word in words
        if word in text.replace("'", ' ').split()
    )

    assert spelled == []
    assert 'pending' in ' '.join(sql_in('chalicelib.orders.queries'))  # the check reads the SQL


def test_an_order_is_loaded_in_one_place():
    """The order aggregate's loads (ORDER, ORDER_FOR_UPDATE, ITEMS_OF) are
    run by orders/loaders.py alone: not-found and who may read are decided once."""
    loads = {'ORDER', 'ORDER_FOR_UPDATE', 'ITEMS_OF'}
    runners = sorted(
        module
        for module in LAYERED
        if module != 'chalicelib.orders.queries'
        and any(
            isinstance(node, ast.Attribute) and node.attr in loads
            for node in ast.walk(ast.parse(path_of(module).read_text()))
        )
    )

    assert runners == ['chalicelib.orders.loaders']


def test_app_runs_no_query_and_calls_no_aws_itself():
    """app.py translates HTTP and events into domain calls: no SQL, no driver,
    no AWS client of its own."""
    assert 'app' in LAYERED
    bad = sorted(
        name
        for name in imports_of('app')
        if any(
            within(name, forbidden)
            for forbidden in (
                'peewee',
                'pymysql',
                'boto3',
                'botocore',
                'chalicelib.storage.statements',
            )
        )
        or name.endswith('.queries')
    )

    assert bad == []


def readme_file_map():
    """The modules README.md's file map (under 'How it is built') names."""
    text = (ROOT / 'README.md').read_text()
    start = text.index('\napp.py ')
    named, package = set(), None
    for line in text[start : text.index('```', start)].splitlines():
        if match := re.match(r'(chalicelib/[\w/]+/)\s', line):
            package = match[1]
        elif match := re.match(r'(chalicelib/[\w/]+\.py)\s', line):
            named.add(match[1])
        elif (match := re.match(r' {4}(\w+\.py)\s', line)) and package:
            named.add(package + match[1])
        elif re.match(r'\S', line):
            package = None
    return named


def test_the_readme_file_map_names_every_module():
    modules = {
        str(path.relative_to(ROOT))
        for path in (ROOT / 'chalicelib').rglob('*.py')
        if path.name != '__init__.py'
    }
    named = readme_file_map()

    assert sorted(modules - named) == []
    assert sorted(named - modules - {'chalicelib/identity/__init__.py'}) == []


def imported_from_tests(source):
    """The modules of tests/ a source imports, `from tests.x import test_y` as tests.x.test_y."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f'{node.module}.{alias.name}' for alias in node.names)
    return {name for name in names if name.startswith('tests.')}


def test_no_test_module_imports_another():
    """Helpers two test modules share live in tests/support*.py (or a
    package's support module), never in a test module or a conftest: a
    test module is collected, not imported."""
    assert imported_from_tests('from tests.integration import test_package') == {
        'tests.integration',
        'tests.integration.test_package',
    }
    bad = sorted(
        f'{path.relative_to(ROOT)} -> {name}'
        for path in (ROOT / 'tests').rglob('*.py')
        for name in imported_from_tests(path.read_text())
        if any(part.startswith('test_') or part == 'conftest' for part in name.split('.')[1:])
    )

    assert bad == []
