"""What a container builds once and reuses across warm invocations: the
database, the order, payment and refund services, Stripe, the publisher and
the notifier. Each is made on
first use, from the environment; AWS clients only when first called."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import peewee

from chalicelib import identity
from chalicelib.catalog.products import CatalogService
from chalicelib.core.errors import DatabaseUnavailable
from chalicelib.events.publishers import LocalPublisher, SnsPublisher
from chalicelib.orders import counts
from chalicelib.orders.service import OrderService
from chalicelib.payments.gateway import StripeGateway
from chalicelib.payments.intents import IntentCancellations
from chalicelib.payments.refunds import RefundService
from chalicelib.platform import aws
from chalicelib.platform.config import get_settings
from chalicelib.platform.logs import log
from chalicelib.storage import connection
from chalicelib.storage.availability import unavailable_on_driver_error

if TYPE_CHECKING:
    from chalicelib.notify.notifier import Notifier
    from chalicelib.orders.discounts import DiscountService
    from chalicelib.orders.shipping_methods import ShippingMethodService
    from chalicelib.orders.tax_rates import TaxRateService
    from chalicelib.payments.service import PaymentService
    from chalicelib.returns.service import ReturnService

DEFAULT_MAIL_DIR = '.data/mail'

_T = TypeVar('_T')
_built: dict[str, Any] = {}


def _once(name: str, build: Callable[[], _T]) -> _T:
    if name not in _built:
        _built[name] = build()
    built: _T = _built[name]
    return built


def reset() -> None:
    """Forget all a container caches: the settings, the AWS clients, the
    authenticator with its keys, and what this module built. A Lambda
    container never needs it (its environment never changes); tests change
    the environment between cases, and this is their one reset."""
    get_settings.cache_clear()
    aws.forget_clients()
    identity.reset()
    _built.clear()


def database() -> peewee.DatabaseProxy:
    """The database, connected and (when AUTO_MIGRATE says so) migrated."""
    settings = get_settings()
    _once('database', lambda: connection.open_database(settings))
    connection.connect()
    if settings.auto_migrate:
        _once('schema', _upgrade_schema)
    return connection.database


def _upgrade_schema() -> bool:
    # Imported here: a copy whose AUTO_MIGRATE is off (MySQL stages) never
    # loads the migrations.
    from chalicelib.storage import migrations

    try:
        with unavailable_on_driver_error():
            migrations.upgrade(counts.recount)
    except migrations.SchemaLocked as exc:
        # Another copy is still migrating: a 503 until it is done.
        log.error('Database unavailable: %s', exc)
        raise DatabaseUnavailable() from exc
    return True


def _client_getter(service: str, purpose: str = aws.BACKGROUND) -> Callable[[], Any]:
    region = get_settings().aws_region
    return lambda: aws.client(service, region, purpose)


def publisher() -> SnsPublisher | LocalPublisher:
    def build() -> SnsPublisher | LocalPublisher:
        settings = get_settings()
        if settings.sns_topic_arn:
            return SnsPublisher(
                _client_getter('sns', aws.REQUEST), _client_getter('sns'), settings.sns_topic_arn
            )
        return LocalPublisher(notifier)

    return _once('publisher', build)


def notifier() -> Notifier:
    def build() -> Notifier:
        # Imported here: the API's Lambda (SNS configured) never notifies,
        # and its cold start need not load the mail modules.
        from chalicelib.notify.notifier import Notifier
        from chalicelib.notify.senders import MailDirSender, SesSender

        settings = get_settings()
        sender: SesSender | MailDirSender
        if settings.ses_sender_email and not settings.mail_dir:
            sender = SesSender(_client_getter('ses'), settings.ses_sender_email)
        else:
            sender = MailDirSender(settings.mail_dir or DEFAULT_MAIL_DIR)
        return Notifier(sender, connect=database)

    return _once('notifier', build)


def order_service() -> OrderService:
    database()
    return _once(
        'service',
        lambda: OrderService(
            publish=publisher().publish_committed,
            cancellation_refunds=refund_service(),
            intent_cancels=intent_cancellations(),
        ),
    )


def stripe_gateway() -> StripeGateway | None:
    """Stripe, or None when card payments are not configured."""

    def build() -> StripeGateway | None:
        settings = get_settings()
        if settings.stripe is None:
            return None
        secrets = _client_getter('secretsmanager')
        return StripeGateway(
            settings.stripe,
            read_secret=lambda arn: secrets().get_secret_value(SecretId=arn)['SecretString'],
        )

    return _once('stripe', build)


def refund_service() -> RefundService:
    database()
    return _once('refunds', lambda: RefundService(stripe_gateway, publisher().publish_committed))


def intent_cancellations() -> IntentCancellations:
    database()
    return _once('intents', lambda: IntentCancellations(stripe_gateway))


def payment_service() -> PaymentService:
    database()

    def build() -> PaymentService:
        # Imported here: its webhook parsing is not what a GET of an order needs.
        from chalicelib.payments.service import PaymentService

        return PaymentService(stripe_gateway, refund_service(), publisher().publish_committed)

    return _once('payments', build)


def return_service() -> ReturnService:
    # Imported here: a GET of one order (a cold start) needs no returns.
    from chalicelib.returns.service import ReturnService

    database()
    return _once('returns', lambda: ReturnService(refund_service(), publisher().publish_committed))


def catalog_service() -> CatalogService:
    database()
    return _once('catalog', CatalogService)


# Imported by their first request: a GET of one order (a cold start) needs none.
def shipping_method_service() -> ShippingMethodService:
    from chalicelib.orders.shipping_methods import ShippingMethodService

    database()
    return _once('shipping_methods', ShippingMethodService)


def discount_service() -> DiscountService:
    from chalicelib.orders.discounts import DiscountService

    database()
    return _once('discounts', DiscountService)


def tax_rate_service() -> TaxRateService:
    from chalicelib.orders.tax_rates import TaxRateService

    database()
    return _once('tax_rates', TaxRateService)


def sqs() -> Any:
    return aws.client('sqs', get_settings().aws_region)
