"""`make migrate`: create the schema on the configured database. Every
statement is CREATE ... IF NOT EXISTS, so running it again changes nothing."""
import sys

from chalicelib import db
from chalicelib.config import get_settings
from chalicelib.models import MODELS


def migrate(settings=None):
    settings = settings or get_settings()
    db.open_database(settings)
    db.connect()
    db.create_schema(MODELS)
    tables = db.database.get_tables()
    db.database.close()
    return tables


def main():
    tables = migrate()
    print(f'schema ready: {", ".join(tables)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
