"""The catalog's place among the floors: orders may use the catalog, never
the reverse; storage uses neither; the pure rules (pricing, stock rules, the
status change) load nothing of storage, HTTP or AWS, even indirectly."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CHALICELIB = Path(__file__).resolve().parents[2] / 'chalicelib'


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f'{node.module}.{alias.name}' for alias in node.names)


@pytest.mark.parametrize(
    'package, forbidden',
    [
        (
            'catalog',
            (
                'chalicelib.orders',
                'chalicelib.payments',
                'chalicelib.notify',
                'chalicelib.api',
                'chalicelib.wiring.runtime',
                'chalicelib.wiring.cli',
            ),
        ),
        ('storage', ('chalicelib.catalog',)),
    ],
)
def test_a_floor_never_imports_one_above_it(package, forbidden):
    offending = {
        f'{path.name}: {module}'
        for path in (CHALICELIB / package).glob('*.py')
        for module in imported_modules(path)
        if module.startswith(forbidden)
    }

    assert offending == set()


@pytest.mark.parametrize(
    'module',
    [
        'chalicelib.catalog.pricing',
        'chalicelib.catalog.stock_rules',
        'chalicelib.orders.changes',
        'chalicelib.core.money',
    ],
)
def test_pure_rules_load_no_storage_http_or_aws(module):
    loaded = subprocess.run(
        [sys.executable, '-c', f'import sys, {module}; print(" ".join(sys.modules))'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    assert [
        name
        for name in loaded
        if name.startswith(
            (
                'chalicelib.storage',
                'peewee',
                'pymysql',
                'boto3',
                'botocore.',
                'chalice.',
                'chalicelib.api',
            )
        )
    ] == []
