"""What a container builds once and reuses across warm invocations: the
database, the order service, the publisher and the notifier. Each is made on
first use, from the environment; AWS clients only when first called."""
from chalicelib import aws, db
from chalicelib.config import get_settings
from chalicelib.mail import MailDirSender, SesSender
from chalicelib.migrate import create_schema
from chalicelib.notifier import Notifier
from chalicelib.orders import OrderService
from chalicelib.publisher import LocalPublisher, SnsPublisher

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
    _once('database', lambda: db.open_database(settings))
    db.ready(create_schema if settings.auto_migrate else None)
    return db.database


def _client_getter(service):
    region = get_settings().aws_region
    return lambda: aws.client(service, region)


def publisher():
    def build():
        settings = get_settings()
        if settings.sns_topic_arn:
            return SnsPublisher(_client_getter('sns'), settings.sns_topic_arn)
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
    return _once('service', lambda: OrderService(publish=publisher().publish_committed))
