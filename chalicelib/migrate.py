"""`make migrate`: create the schema on the configured database. Every
statement is CREATE ... IF NOT EXISTS, so running it again changes nothing."""
import sys

from chalicelib import counts, db
from chalicelib.config import get_settings
from chalicelib.models import MODELS, OrderCount


def create_schema():
    db.database.create_tables(MODELS, safe=True)
    if not OrderCount.select().exists():
        counts.recount()


def migrate(settings=None):
    db.open_database(settings or get_settings())
    db.connect()
    create_schema()
    tables = db.database.get_tables()
    db.database.close()
    return tables


def main():
    tables = migrate()
    print(f'schema ready: {", ".join(tables)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
