"""A module imported on first use: for what a cold start may skip because the
request at hand does not need it (marshmallow's import compiles an email
regex of about 27 ms that a GET of one order never uses).

The stand-in imports the real module through the import system when one of
its names is first read (its lock makes that safe under chalice local's
threads), then hands out the module's attributes; the real module is the one
in sys.modules, so a plain `import` elsewhere gets the same object.
tests/unit/test_layout.py counts a lazy_import('name') as an import."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


class LazyModule:
    def __init__(self, name: str, load: Callable[[], ModuleType] | None = None) -> None:
        self._name = name
        self._load = load
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = self._load() if self._load else importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        return f'<lazy module {self._name!r}>'


def lazy_import(name: str, load: Callable[[], ModuleType] | None = None) -> Any:
    """A stand-in for the module `name`, imported when a name of it is first
    read (by `load()` if given: an import that needs more than importing)."""
    return LazyModule(name, load)
