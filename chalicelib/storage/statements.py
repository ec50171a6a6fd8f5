"""How the SQL that requests run is bound and executed: the machinery, not
the text. Each domain keeps its own statements beside it (orders/queries.py,
catalog/queries.py, events/queries.py, payments/queries.py); storage knows no
status, no order and no product.

Peewee builds SQL text anew on every execution, which costs about 100 µs a
statement here: more than a primary-key lookup on a warm connection. So the
statements of the request paths are plain SQL text, written once, and bound by
name: `:status` takes the value named `status`, converted by the model field
of that name (money to its column form, times to the database's format),
whatever order the model declares its fields in.

A list value expands its placeholder (`IN (:order_ids)`). Each text is
rendered once per database kind (storage/dialect.py: SQLite takes `:name`,
PyMySQL `%(name)s`); a `:word` inside a quoted literal is no placeholder.
Column lists come from the models (model_rows.column_list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import peewee

from chalicelib.storage import connection, dialect
from chalicelib.storage.model_rows import column_list, from_row, values_of


class Statement:
    def __init__(self, model: type[peewee.Model], text: str, for_update: bool = False) -> None:
        self.model = model  # its fields convert the values named after them
        self.text = text
        # MariaDB locks the rows read until the transaction ends; SQLite's
        # transaction already holds the write lock (BEGIN IMMEDIATE).
        self.for_update = for_update
        self._rendered: dict[tuple[bool, tuple[tuple[str, int], ...]], str] = {}

    def bind(self, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(SQL text for the current database, the parameters by name)."""
        params = {}
        lengths = []
        fields = self.model._meta.fields
        for name, value in values.items():
            field = fields.get(name)
            if isinstance(value, (list, tuple)):
                lengths.append((name, len(value)))
                for index, item in enumerate(value):
                    params[f'{name}_{index}'] = field.db_value(item) if field else item
            else:
                params[name] = field.db_value(value) if field else value
        key = (connection.is_sqlite(), tuple(lengths))
        text = self._rendered.get(key)
        if text is None:
            text = self._rendered[key] = self._render(*key)
        return text, params

    def _render(self, sqlite: bool, lengths: tuple[tuple[str, int], ...]) -> str:
        return dialect.render(
            dialect.expand_lists(self.text, dict(lengths)), sqlite, self.for_update
        )


def run(statement: Statement, **values: Any) -> Any:
    """Execute a statement; the cursor."""
    return connection.database.execute_sql(*statement.bind(values))


def send(statement: Statement, **values: Any) -> None:
    """Execute a statement whose answer nobody waits for: on MariaDB it is
    sent and its answer read before the connection's next command
    (connection.send_without_waiting); SQLite, in process, runs it at once."""
    if connection.is_sqlite():
        run(statement, **values)
    else:
        connection.database.send_sql(*statement.bind(values))


def fetch(statement: Statement, **values: Any) -> list[Any]:
    """The rows of a SELECT as model instances."""
    cursor = run(statement, **values)
    model = statement.model
    fields = model._meta.columns
    readers = [
        (fields[column[0]].name, fields[column[0]].python_value) for column in cursor.description
    ]
    return [
        from_row(
            model,
            {
                name: None if value is None else read(value)
                for (name, read), value in zip(readers, row, strict=True)
            },
        )
        for row in cursor.fetchall()
    ]


def scalar(statement: Statement, **values: Any) -> Any:
    return run(statement, **values).fetchone()[0]


_inserts: dict[tuple[type[peewee.Model], tuple[str, ...], int], Statement] = {}


def insert(model: type[peewee.Model], rows: list[dict[str, Any]]) -> int:
    """INSERT rows (dicts keyed by field name, the same keys in each); the id
    of the first row. The column list comes from the keys, so each value goes
    to the column of its own name."""
    names = tuple(rows[0])
    key = (model, names, len(rows))
    statement = _inserts.get(key)
    if statement is None:
        columns = ', '.join(model._meta.fields[name].column_name for name in names)
        groups = ', '.join(
            '(' + ', '.join(f':{name}_r{i}' for name in names) + ')' for i in range(len(rows))
        )
        statement = _inserts[key] = Statement(
            model, f'INSERT INTO {model._meta.table_name} ({columns}) VALUES {groups}'
        )
    fields = model._meta.fields
    values = {
        f'{name}_r{i}': fields[name].db_value(row[name])
        for i, row in enumerate(rows)
        for name in names
    }
    text, params = statement.bind(values)
    return dialect.first_inserted_id(connection.database.execute_sql(text, params), len(rows))


def insert_instance(instance: peewee.Model) -> int:
    """INSERT the values a model instance holds; its id."""
    return insert(type(instance), [values_of(instance)])


class KeysetPages:
    """The pages of one list: rows of `model` by its key `key` (newest first
    when `descending`), one more row than the page holds (`:limit`), keyset
    after a cursor (`:after`) or offset for a page number (`:offset`). Each
    filter (a field of the model, by name) is a condition only when given.
    One statement is built per shape of request, on first use."""

    def __init__(
        self, model: type[peewee.Model], key: str, descending: bool, filters: tuple[str, ...]
    ) -> None:
        self.model = model
        self.key = key
        self.descending = descending
        self.filters = filters
        self._statements: dict[tuple[tuple[str, ...], bool, bool], Statement] = {}

    def statement(self, filters: tuple[str, ...], after: bool, offset: bool) -> Statement:
        shape = (filters, after, offset)
        if shape not in self._statements:
            fields = self.model._meta.fields
            conditions = [f'{fields[name].column_name} = :{name}' for name in filters]
            if after:
                conditions.append(f'{self.key} {"<" if self.descending else ">"} :after')
            where = f' WHERE {" AND ".join(conditions)}' if conditions else ''
            order = f'{self.key} DESC' if self.descending else self.key
            self._statements[shape] = Statement(
                self.model,
                (
                    f'SELECT {column_list(self.model)} FROM {self.model._meta.table_name}{where} '
                    f'ORDER BY {order} LIMIT :limit' + (' OFFSET :offset' if offset else '')
                ),
            )
        return self._statements[shape]

    def fetch(
        self, page_size: int, after: int | None, offset: int, filters: Mapping[str, Any]
    ) -> list[Any]:
        """The page's rows and one more, if there is one (a next page)."""
        given = tuple(name for name in self.filters if filters.get(name) is not None)
        values: dict[str, Any] = {name: filters[name] for name in given}
        values['limit'] = page_size + 1
        if after is not None:
            values['after'] = after
        if offset:
            values['offset'] = offset
        return fetch(self.statement(given, after is not None, offset > 0), **values)
