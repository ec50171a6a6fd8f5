"""A module loaded on first use: for what a cold start may skip because the
request at hand does not need it (marshmallow's import compiles an email
regex of about 27 ms that a GET of one order never uses).

importlib.util.LazyLoader, as the Python documentation shows it: the module
object exists at once and runs its code when an attribute is first read.
tests/unit/test_layout.py counts a lazy_import('name') as an import."""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """The module `name`, executed when first used (at once if it already was)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition('.')
    if parent:
        setattr(sys.modules[parent], child, module)
    return module
