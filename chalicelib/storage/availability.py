"""Driver errors become the domain's DatabaseUnavailable here, at the edge of
storage, so that nothing above it names a Peewee or PyMySQL exception."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.storage import connection


@contextmanager
def unavailable_on_driver_error() -> Iterator[None]:
    """Whatever the driver raises inside becomes DatabaseUnavailable (or one
    of its kinds: busy, no connection to spare), its cause logged once and a
    broken connection dropped."""
    try:
        yield
    except connection.CONNECTION_ERRORS as exc:
        raise connection.unavailable(exc) from exc


def ping() -> None:
    """One round trip to the database; DatabaseUnavailable if it fails."""
    with unavailable_on_driver_error():
        connection.database.execute_sql('SELECT 1')
