"""The few Peewee internals the hand-written statements need, behind one
small adapter: tests/unit/test_model_rows.py fails the day Peewee changes them.

Model instances are built from rows the service read itself (no defaults
filled in, nothing marked as changed), and read back as {field name: value}."""

from __future__ import annotations

from typing import Any, TypeVar

import peewee

M = TypeVar('M', bound=peewee.Model)


def column_list(model: type[peewee.Model], alias: str = '') -> str:
    """Every column of the model, in its declared order, for a SELECT;
    `alias`: the table's alias in the statement ('o' gives o.order_id, ...)."""
    prefix = f'{alias}.' if alias else ''
    return ', '.join(prefix + field.column_name for field in model._meta.sorted_fields)


def from_row(model: type[M], values: dict[str, Any]) -> M:
    """An instance holding exactly `values` (by field name), as if loaded:
    no field's default filled in, no field marked dirty."""
    # What Model(__no_default__=1, **values) leaves behind, without a
    # descriptor call per field: a list of 10 orders builds 40 instances.
    instance: Any = model.__new__(model)
    instance.__data__ = values
    instance._dirty = set()
    instance.__rel__ = {}
    return instance


def values_of(instance: peewee.Model) -> dict[str, Any]:
    """The instance's field values by name (those it was given or defaulted to)."""
    return dict(instance.__data__)
