"""The pure rules import nothing from storage, HTTP or AWS, directly or through
another module of the service."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = ['chalicelib.clock', 'chalicelib.orders.lifecycle', 'chalicelib.money',
        'chalicelib.orders.access', 'chalicelib.orders.export', 'chalicelib.orders.payment',
        'chalicelib.payments.rules',
        'chalicelib.events.messages', 'chalicelib.events.breaker']
FORBIDDEN = ('peewee', 'pymysql', 'boto3', 'botocore', 'chalice', 'chalicelib.storage',
             'chalicelib.aws', 'chalicelib.runtime')


def imports_of(module):
    path = ROOT / (module.replace('.', '/') + '.py')
    if not path.exists():
        path = ROOT / module.replace('.', '/') / '__init__.py'
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
            names.update(f'{node.module}.{alias.name}' for alias in node.names)
    return names


def reachable(module):
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        for name in imports_of(current):
            if name in seen:
                continue
            seen.add(name)
            if name.startswith('chalicelib.') and (
                    (ROOT / (name.replace('.', '/') + '.py')).exists()
                    or (ROOT / name.replace('.', '/') / '__init__.py').exists()):
                todo.append(name)
    return seen


@pytest.mark.parametrize('module', PURE)
def test_pure_rules_import_no_storage_http_or_aws(module):
    bad = sorted(name for name in reachable(module)
                 if any(name == f or name.startswith(f + '.') for f in FORBIDDEN))
    assert bad == []
