"""The schema: every statement is CREATE ... IF NOT EXISTS, so running it
again changes nothing."""
from playhouse.migrate import SchemaMigrator

from chalicelib.orders import counts
from chalicelib.storage import connection
from chalicelib.storage.connection import database
from chalicelib.storage.models import MODELS, OrderCount
from chalicelib.storage.steps_features import add_shipping_cancellation_history


def create_schema():
    database.create_tables(MODELS, safe=True)
    # create_tables adds no column to a table that exists: a database made
    # before shipments and history gets them from their step (which finds
    # nothing to do on a new one). Numbered steps will run it in its turn.
    add_shipping_cancellation_history(SchemaMigrator.from_database(database))
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
