"""lazy_import defers a module's import to the first name read from it."""

import sys

from chalicelib.core.lazy import lazy_import


def test_a_lazy_module_is_imported_when_a_name_of_it_is_first_read(monkeypatch):
    monkeypatch.delitem(sys.modules, 'colorsys', raising=False)
    colorsys = lazy_import('colorsys')
    assert 'colorsys' not in sys.modules

    assert colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert colorsys.ONE_THIRD == sys.modules['colorsys'].ONE_THIRD
