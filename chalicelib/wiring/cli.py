"""Operator commands, run on the configured database and AWS account:

    python -m chalicelib.wiring.cli migrate    create or upgrade the schema
    python -m chalicelib.wiring.cli relay      publish what the outbox still holds
    python -m chalicelib.wiring.cli redrive    move the notifier's dead letters back
    python -m chalicelib.wiring.cli recount    rebuild the order counts behind list totals
    python -m chalicelib.wiring.cli import-products FILE   load or update the catalog from CSV
    python -m chalicelib.wiring.cli demo-catalog   the demo catalog (products, shipping
                                                   methods, a tax zone, a discount code),
                                                   into an empty local catalog

The Makefile's targets of the same names call these."""

import argparse
import io
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from chalicelib.catalog import imports
from chalicelib.catalog.commands import ProductListQuery
from chalicelib.catalog.products import CatalogService
from chalicelib.core.errors import DatabaseUnavailable, InvalidInput, OrderServiceError, SkuTaken
from chalicelib.core.paging import PageRequest
from chalicelib.events.relay import relay
from chalicelib.identity.principal import STAFF, Principal
from chalicelib.orders import counts
from chalicelib.platform.config import ConfigError, get_settings
from chalicelib.platform.logs import log
from chalicelib.storage.connection import CONNECTION_ERRORS, describe
from chalicelib.storage.migrations import SchemaLocked, migrate
from chalicelib.wiring import runtime

# Who the catalog commands act as: an operator at the shop's own database.
_STAFF = Principal(sub='cli', role=STAFF)


def redrive(sqs: Any, dlq_url: str, queue_url: str, limit: int = 100000) -> int:
    """Receive, send, delete, in batches of 10: it works on every SQS (and on
    moto), and a message is deleted from the dead-letter queue only once it is
    safely back on the queue (at worst a crash leaves a copy in both: the
    notifier sends at most one email per event)."""
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=['All'],
        ).get('Messages', [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=message['Body'],
                MessageAttributes=message.get('MessageAttributes', {}),
            )
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message['ReceiptHandle'])
            moved += 1
    return moved


def _migrate() -> None:
    result = migrate(get_settings(), counts.recount)
    applied = ', '.join(map(str, result['applied'])) or 'none'
    print(f'schema at version {result["version"]} (steps applied now: {applied})')


def _relay() -> None:
    runtime.database()
    # By hand there is no Lambda timeout to stay inside: until all is published.
    published = relay(runtime.publisher(), time_left=lambda: math.inf)
    print(f'published {published} events')


def _redrive() -> None:
    settings = get_settings()
    sqs = runtime.sqs()
    moved = redrive(
        sqs,
        sqs.get_queue_url(QueueName=settings.notify_dlq)['QueueUrl'],
        sqs.get_queue_url(QueueName=settings.notify_queue)['QueueUrl'],
    )
    print(f'moved {moved} messages from {settings.notify_dlq} back to {settings.notify_queue}')


def _recount() -> None:
    # After loading orders behind the service's back, while nothing else
    # writes orders.
    runtime.database()
    print(f'counts rebuilt: {counts.recount()}')


def _import_products(path: str | None) -> int:
    """All rows or none; every bad row reported by line. 0 when imported."""
    if not path:
        print(
            'import-products needs a file: make import-products FILE=products.csv', file=sys.stderr
        )
        return 2
    try:
        rows = imports.read_rows(io.StringIO(_read_text(path), newline=''))
        runtime.database()
        imported = CatalogService().import_products(rows)
    except OSError as exc:
        return _refused(path, [f'cannot be read: {exc.strerror or exc}'])
    except imports.BadRows as exc:
        return _refused(path, exc.problems)
    except InvalidInput as exc:
        return _refused(
            path,
            [
                f'line {line}: sku: {" ".join(why["sku"])}'
                for line, why in sorted((exc.errors or {}).items())
            ],
        )
    except SkuTaken as exc:  # another import wrote the same SKU meanwhile
        return _refused(path, [str(exc)])
    print(f'imported {imported} products from {path}')
    return 0


def _read_text(path: str) -> str:
    """The file's text: UTF-8, with or without the byte order mark Excel
    writes ("CSV UTF-8"). Other encodings are refused with the line of the
    first byte UTF-8 cannot read, not guessed at."""
    with open(path, 'rb') as file:
        data = file.read()
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError as exc:
        line = data.count(b'\n', 0, exc.start) + 1
        raise imports.BadRows(
            [
                f'line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file '
                'as UTF-8 ("CSV UTF-8" in Excel) and import it again'
            ]
        ) from exc


def _refused(path: str, problems: Sequence[str]) -> int:
    print(f'{path}: nothing imported, {len(problems)} problem(s):', file=sys.stderr)
    for problem in problems:
        print(f'  {problem}', file=sys.stderr)
    return 1


_TOOLS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'tools'
)
DEMO_CATALOG = os.path.join(_TOOLS, 'demo_products.csv')
# What a checkout needs beside products: shipping methods, a tax zone, a code;
# each body as its PUT takes it, held to the same rules.
DEMO_CHECKOUT = os.path.join(_TOOLS, 'demo_checkout.json')


def _demo_catalog(_path: str | None) -> int:
    """`make run`'s demo products, only into the local stage's database and
    only while its catalog is empty: a deployment's catalog is never touched,
    and a local one staff changed is kept."""
    if get_settings().environment != 'local':
        print('demo-catalog loads only with ENVIRONMENT=local', file=sys.stderr)
        return 2
    runtime.database()
    listing = CatalogService().list_products(_STAFF, ProductListQuery(PageRequest(page_size=1)))
    if listing['total']:
        print(f'catalog kept ({listing["total"]} products)')
        return 0
    loaded = _import_products(DEMO_CATALOG)
    if loaded == 0:
        _demo_checkout()
    return loaded


def _demo_checkout() -> None:
    """The demo's shipping methods, tax zone and discount code, written as
    staff would write them (PUT /shipping-methods, /tax-rates, /discounts)."""
    from chalicelib.orders import schemas
    from chalicelib.orders.discounts import DiscountService
    from chalicelib.orders.shipping_methods import ShippingMethodService
    from chalicelib.orders.tax_rates import TaxRateService

    with open(DEMO_CHECKOUT, encoding='utf-8') as file:
        demo = json.load(file, parse_float=Decimal)
    for code, body in demo['shipping_methods'].items():
        ShippingMethodService().put(_STAFF, code, schemas.load_shipping_method(body))
    for zone, body in demo['tax_rates'].items():
        TaxRateService().put(_STAFF, zone, schemas.load_tax_rate(body))
    for code, body in demo['discounts'].items():
        DiscountService().put(_STAFF, code, schemas.load_discount(body))
    print(
        f'demo checkout: shipping methods {", ".join(demo["shipping_methods"])}; '
        f'tax zone {", ".join(demo["tax_rates"])}; discount code {", ".join(demo["discounts"])}'
    )


COMMANDS: dict[str, Callable[[], None]] = {
    'migrate': _migrate,
    'relay': _relay,
    'redrive': _redrive,
    'recount': _recount,
}
CATALOG_COMMANDS: dict[str, Callable[[str | None], int]] = {
    'import-products': _import_products,
    'demo-catalog': _demo_catalog,
}


def main(argv: Sequence[str] | None = None) -> int:
    """The command's exit status: 0 done, 1 failed (one line on stderr says
    why, never a traceback), 2 not run (a usage mistake)."""
    parser = argparse.ArgumentParser(prog='python -m chalicelib.wiring.cli')
    parser.add_argument('command', choices=sorted({*COMMANDS, *CATALOG_COMMANDS}))
    parser.add_argument('file', nargs='?', help='the CSV file of import-products')
    args = parser.parse_args(argv)
    try:
        if args.command in CATALOG_COMMANDS:
            return CATALOG_COMMANDS[args.command](args.file)
        COMMANDS[args.command]()
    except KeyboardInterrupt:
        print(f'{args.command}: interrupted', file=sys.stderr)
        return 130
    except Exception as exc:
        print(f'{args.command} failed: {failure(exc)}', file=sys.stderr)
        # The traceback, for whoever asks for it (LOG_LEVEL=DEBUG), as a log line.
        log.debug('%s failed', args.command, exc_info=exc)
        return 1
    return 0


def failure(exc: Exception) -> str:
    """What went wrong, in words an operator can act on."""
    if isinstance(exc, ConfigError):
        return f'the configuration is not usable: {exc}'
    if isinstance(exc, DatabaseUnavailable):
        return f'{exc} (the log line before this one says why)'
    if isinstance(exc, CONNECTION_ERRORS):
        return f'the database refused: {describe(exc)}'
    if isinstance(exc, (OrderServiceError, SchemaLocked)):
        return str(exc)
    # An AWS refusal (no credentials, no such queue) or anything else: its
    # class and text, which name what is missing.
    return f'{type(exc).__name__}: {exc}'.strip()


if __name__ == '__main__':
    sys.exit(main())
