"""What a container builds once and reuses across warm invocations: the
database, the order, payment and refund services, Stripe, the publisher and
the notifier. Each is made on
first use, from the environment; AWS clients only when first called."""
from chalicelib import aws
from chalicelib.catalog.products import CatalogService
from chalicelib.config import get_settings
from chalicelib.errors import DatabaseUnavailable
from chalicelib.events.publishers import LocalPublisher, SnsPublisher
from chalicelib.logs import log
from chalicelib.notify.notifier import Notifier
from chalicelib.notify.senders import MailDirSender, SesSender
from chalicelib.orders.service import OrderService
from chalicelib.payments.gateway import StripeGateway
from chalicelib.payments.refunds import RefundService
from chalicelib.payments.service import PaymentService
from chalicelib.storage import connection, migrations

DEFAULT_MAIL_DIR = '.data/mail'

_built = {}


def _once(name, build):
    if name not in _built:
        _built[name] = build()
    return _built[name]


def reset():
    """Forget everything built (tests change the environment between cases)."""
    _built.clear()


def database():
    """The database, connected and (when AUTO_MIGRATE says so) migrated."""
    settings = get_settings()
    _once('database', lambda: connection.open_database(settings))
    connection.connect()
    if settings.auto_migrate:
        _once('schema', _upgrade_schema)
    return connection.database


def _upgrade_schema():
    try:
        migrations.upgrade()
    except connection.CONNECTION_ERRORS as exc:
        raise connection.unavailable(exc) from exc
    except migrations.SchemaLocked as exc:
        # Another copy is still migrating: a 503 until it is done.
        log.error('Database unavailable: %s', exc)
        raise DatabaseUnavailable() from exc
    return True


def _client_getter(service, purpose=aws.BACKGROUND):
    region = get_settings().aws_region
    return lambda: aws.client(service, region, purpose)


def publisher():
    def build():
        settings = get_settings()
        if settings.sns_topic_arn:
            return SnsPublisher(_client_getter('sns', aws.REQUEST), _client_getter('sns'),
                                settings.sns_topic_arn)
        return LocalPublisher(notifier)
    return _once('publisher', build)


def notifier():
    def build():
        settings = get_settings()
        if settings.ses_sender_email and not settings.mail_dir:
            sender = SesSender(_client_getter('ses'), settings.ses_sender_email)
        else:
            sender = MailDirSender(settings.mail_dir or DEFAULT_MAIL_DIR)
        return Notifier(sender)
    return _once('notifier', build)


def order_service():
    database()
    return _once('service', lambda: OrderService(
        publish=publisher().publish_committed, cancellation_refunds=refund_service()))


def stripe_gateway():
    """Stripe, or None when card payments are not configured."""
    def build():
        settings = get_settings()
        if settings.stripe is None:
            return None
        secrets = _client_getter('secretsmanager')
        return StripeGateway(settings.stripe, read_secret=lambda arn: secrets().get_secret_value(
            SecretId=arn)['SecretString'])
    return _once('stripe', build)


def refund_service():
    database()
    return _once('refunds', lambda: RefundService(stripe_gateway, publisher().publish_committed))


def payment_service():
    database()
    return _once('payments', lambda: PaymentService(
        stripe_gateway, refund_service(), publisher().publish_committed))


def catalog_service():
    database()
    return _once('catalog', CatalogService)


def sqs():
    return aws.client('sqs', get_settings().aws_region)
