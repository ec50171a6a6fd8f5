"""peewee, with PyMySQL imported only when a MySQL database is first used,
and then without cryptography until an RSA sign-in needs it.

peewee imports PyMySQL at its own import (with ssl, configparser and
cryptography's key formats: about 28 ms of a cold start), though only a
MySQL database ever uses it: a SQLite process never does. So peewee is
imported here while PyMySQL is held back, and its `mysql` (the driver its
MySQLDatabase reaches for) is `pymysql`, a stand-in that imports PyMySQL on
first use; storage/connection.py uses the same stand-in. Where peewee was
imported before (a process that imported PyMySQL itself), nothing changes.

PyMySQL's auth module imports cryptography (its key formats, hashes and
padding: about 20 ms with the Rust bindings, which nothing else of a cold
start loads: identity/tokens.py checks RS256 without it) for one case
only: an RSA exchange of the password with MySQL 8's caching_sha2_password
or sha256_password over a connection without TLS. MariaDB never asks for
it. cryptography is held back while PyMySQL is imported, and the auth
module is handed stand-ins that import it when that sign-in happens."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from chalicelib.core.lazy import lazy_import
from chalicelib.platform import tracing

KEY_FORMATS = 'cryptography.hazmat.primitives.serialization'
_DRIVERS = ('pymysql', 'MySQLdb')


def _default_backend() -> Any:
    from cryptography.hazmat.backends import default_backend

    return default_backend()


def _import_pymysql() -> ModuleType:
    # None in sys.modules makes an import fail: PyMySQL's auth module takes
    # cryptography as missing (its own except ImportError). Where cryptography
    # is loaded already, its key formats are still spared.
    held = next((name for name in ('cryptography', KEY_FORMATS) if name not in sys.modules), None)
    if held:
        sys.modules[held] = None  # type: ignore[assignment]
    try:
        import pymysql
    finally:
        if held:
            del sys.modules[held]
    auth = sys.modules['pymysql._auth']
    if held and getattr(auth, '_have_cryptography', True) is False:
        # What its `from cryptography... import` would have bound.
        for name, value in (
            ('default_backend', _default_backend),
            ('hashes', lazy_import('cryptography.hazmat.primitives.hashes')),
            ('padding', lazy_import('cryptography.hazmat.primitives.asymmetric.padding')),
            ('serialization', lazy_import(KEY_FORMATS)),
            ('_have_cryptography', True),
        ):
            setattr(auth, name, value)
    # Each statement a subsegment where tracing is on (imported after the
    # Tracer was built, the driver is patched now).
    tracing.patch_database_driver('pymysql')
    return pymysql


pymysql: Any = lazy_import('pymysql', load=_import_pymysql)

if not any(name in sys.modules for name in ('peewee', *_DRIVERS)):
    # peewee's `import pymysql` (and its fallback, MySQLdb) finds no driver
    # and sets mysql = None; the stand-in takes its place.
    for _name in _DRIVERS:
        sys.modules[_name] = None  # type: ignore[assignment]
    try:
        import peewee
    finally:
        for _name in _DRIVERS:
            del sys.modules[_name]
    peewee.mysql = pymysql  # type: ignore[attr-defined]
