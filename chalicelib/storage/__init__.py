"""The database floor. Importing it first imports peewee without PyMySQL
(storage/drivers.py): a SQLite process never loads the MySQL driver."""

from chalicelib.storage import drivers  # noqa: F401  (before any other import of peewee)
