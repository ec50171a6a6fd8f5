"""What differs between SQLite and MariaDB in the SQL the service runs, in
one place: placeholders, row locks, isolation, the id an INSERT reports.

SQLite needs no row lock: its write transactions take the database's write
lock when they begin (BEGIN IMMEDIATE), so FOR UPDATE and SKIP LOCKED are
MariaDB's alone."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import peewee

from chalicelib.storage.connection import database, is_sqlite

# A quoted SQL literal or identifier (kept as it is, quotes doubled inside),
# or a `:name` placeholder outside one.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|:([a-z_][a-z0-9_]*)")


def replace_placeholders(text: str, replace: Callable[[str], str]) -> str:
    """`text` with each `:name` outside a quoted literal replaced by replace(name)."""
    return _TOKEN.sub(
        lambda match: replace(match.group(1)) if match.group(1) else match.group(0), text
    )


def expand_lists(text: str, lengths: Mapping[str, int]) -> str:
    """`:name` of a list value of n items becomes `:name_0, ..., :name_{n-1}`."""
    return replace_placeholders(
        text,
        lambda name: (
            ', '.join(f':{name}_{i}' for i in range(lengths[name]))
            if name in lengths
            else f':{name}'
        ),
    )


def render(text: str, sqlite: bool, for_update: bool = False) -> str:
    """The text as the driver takes it: SQLite binds `:name`; PyMySQL formats
    `%(name)s`, so a literal % is doubled. `for_update`: the rows read stay
    locked until the transaction ends."""
    if sqlite:
        return text
    text = replace_placeholders(text.replace('%', '%%'), lambda name: f'%({name})s')
    return text + ' FOR UPDATE' if for_update else text


def locked(query: peewee.Select) -> peewee.Select:
    """Lock the rows the query reads until the transaction ends."""
    return query if is_sqlite() else query.for_update()


def skip_locked(query: peewee.Select) -> peewee.Select:
    """Lock the rows the query reads, passing over those another transaction locked."""
    return query if is_sqlite() else query.for_update(skip_locked=True)


def insert_or_lock(table: str, key: str, sqlite: bool) -> str:
    """An INSERT of one row by its key (`:key`) that, when the row is there
    already, writes nothing and leaves it locked until the transaction ends:
    MariaDB's ON DUPLICATE KEY UPDATE takes an exclusive lock on the row
    (INSERT IGNORE only a shared one, which every copy could hold at once);
    SQLite's transaction already holds the database's write lock."""
    if sqlite:
        return f'INSERT INTO {table} ({key}) VALUES (:{key}) ON CONFLICT ({key}) DO NOTHING'
    return f'INSERT INTO {table} ({key}) VALUES (:{key}) ON DUPLICATE KEY UPDATE {key} = {key}'


def read_committed() -> None:
    """The next transaction of this connection reads committed rows and locks
    only those it takes (MariaDB's default, REPEATABLE READ, also locks the
    gaps its scans pass). Call before the transaction begins."""
    if not is_sqlite():
        database.execute_sql('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')


def first_inserted_id(cursor: Any, rows: int) -> int:
    """The id of the first of `rows` rows one INSERT added: SQLite reports
    the last row's id, MariaDB the first's."""
    reported: int = database.last_insert_id(cursor)
    return reported - rows + 1 if is_sqlite() else reported
