"""The database floor. Importing it first imports peewee without PyMySQL.

peewee imports PyMySQL at its own import (with ssl and cryptography's key
formats: about 28 ms of a cold start), though only a MySQL database ever
uses it: a SQLite process (`make run`, a SQLite stage) never does. So
peewee is imported here while PyMySQL is held back, and its `mysql` (the
driver its MySQLDatabase reaches for) is a stand-in that imports PyMySQL
when first used; storage/connection.py reads PyMySQL the same way. Where
peewee was imported before this package, nothing changes."""

import sys

from chalicelib.core.lazy import lazy_import

_DRIVERS = ('pymysql', 'MySQLdb')

if not any(name in sys.modules for name in ('peewee', *_DRIVERS)):
    # None in sys.modules makes an import fail: peewee's `import pymysql`
    # (and its fallback, MySQLdb) finds no driver and sets mysql = None.
    for _name in _DRIVERS:
        sys.modules[_name] = None  # type: ignore[assignment]
    try:
        import peewee
    finally:
        for _name in _DRIVERS:
            del sys.modules[_name]
    peewee.mysql = lazy_import('pymysql')  # type: ignore[attr-defined]
