"""The schema: every statement is CREATE ... IF NOT EXISTS, so running it
again changes nothing."""
from chalicelib.orders import counts
from chalicelib.storage import connection
from chalicelib.storage.connection import database
from chalicelib.storage.models import MODELS, OrderCount


def create_schema():
    database.create_tables(MODELS, safe=True)
    if not OrderCount.select().exists():
        counts.recount()


def migrate(settings):
    """Create the schema on the database `settings` name; the tables there now."""
    connection.open_database(settings)
    connection.connect()
    create_schema()
    tables = connection.database.get_tables()
    connection.database.close()
    return tables
