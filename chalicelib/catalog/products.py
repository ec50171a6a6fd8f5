"""The catalog: reading and writing products. Staff write (PUT, the CSV
import); anyone with a valid token reads, a customer only active products
and, of their stock, only what is available."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import peewee

from chalicelib.catalog import access, queries
from chalicelib.catalog.answers import CURSORS, dump_product
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import (
    InvalidInput,
    ProductNotFound,
    SkuTaken,
    VersionMismatch,
)
from chalicelib.identity.principal import Principal
from chalicelib.platform.logs import log
from chalicelib.storage import statements
from chalicelib.storage.connection import database, retry_when_busy
from chalicelib.storage.models import Product

if TYPE_CHECKING:
    # The commands the schemas build: annotations only, so a GET of an
    # order does not build their dataclasses.
    from chalicelib.catalog.commands import ProductListQuery, ProductWrite
    from chalicelib.catalog.pricing import CatalogEntry


@dataclass(frozen=True)
class Written:
    body: dict[str, Any]
    created: bool


def rows(product_ids: Iterable[int]) -> dict[int, Any]:
    """The rows of those of these products the catalog holds, as they are
    (in a transaction: as its snapshot shows them), unlocked."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    return {row.product_id: row for row in statements.fetch(queries.PRODUCTS_IN, product_ids=ids)}


def entry(row: Any) -> CatalogEntry:
    """What pricing needs of a product row."""
    # Imported here: only a create prices, and a GET's cold start need not load it.
    from chalicelib.catalog.pricing import CatalogEntry

    return CatalogEntry(
        product_id=row.product_id,
        sku=row.sku,
        name=row.name,
        unit_price=row.unit_price,
        currency=row.currency,
        active=bool(row.active),
        tracked=row.on_hand is not None,
        version=row.version,
        tax_class=row.tax_class,
    )


class CatalogService:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock

    def get_product(self, principal: Principal, product_id: int) -> dict[str, Any]:
        access.check_can_read(principal)
        rows = statements.fetch(queries.PRODUCTS_IN, product_ids=[product_id])
        if not rows or not access.may_see(principal, bool(rows[0].active)):
            raise ProductNotFound()
        return dump_product(rows[0], staff_view=access.sees_whole_stock(principal))

    def list_products(self, principal: Principal, query: ProductListQuery) -> dict[str, Any]:
        """Ascending product_id, paged by number or by keyset cursor like the
        order lists; a customer's list holds active products only."""
        access.check_can_read(principal)
        active = query.active
        page, after = query.page, None
        if page.cursor is not None:
            after, remembered = CURSORS.decode(page.cursor, {'active': active})
            active = cast(bool | None, remembered['active'])
        active = access.scope_for_list(principal, active)
        rows = queries.PRODUCT_PAGES.fetch(page.page_size, after, page.offset, {'active': active})
        products = rows[: page.page_size]
        total = (
            statements.scalar(queries.COUNT_PRODUCTS)
            if active is None
            else statements.scalar(queries.COUNT_PRODUCTS_ACTIVE, active=active)
        )
        return {
            'products': [
                dump_product(row, staff_view=access.sees_whole_stock(principal)) for row in products
            ],
            'total': int(total or 0),
            'page': page.number,
            'page_size': page.page_size,
            'next_cursor': (
                CURSORS.encode(products[-1].product_id, {'active': active})
                if len(rows) > page.page_size
                else None
            ),
        }

    @retry_when_busy
    def put_product(
        self,
        principal: Principal,
        product_id: int,
        data: ProductWrite,
        expected_version: int | None = None,
    ) -> Written:
        """Create (201) or replace (200) the product; expected_version (If-Match)
        makes the write conditional. `reserved` is never written here."""
        access.check_can_write(principal)
        now = self.clock()
        try:
            with database.atomic():
                created = _write(product_id, data, expected_version, now)
                row = statements.fetch(queries.PRODUCTS_IN, product_ids=[product_id])[0]
        except peewee.IntegrityError:
            # Another product took the SKU meanwhile (the unique index says so).
            raise _sku_taken(data.sku) from None
        log.info('Product %s: product_id=%s', 'created' if created else 'replaced', product_id)
        return Written(dump_product(row, staff_view=True), created)

    def import_products(self, rows: Sequence[tuple[int, int, ProductWrite]]) -> int:
        """Write every (line, product_id, data) in one transaction: all or
        none. A SKU another product holds refuses the whole import, with
        every such line (InvalidInput keyed by line)."""
        now = self.clock()
        taken: dict[int, dict[str, list[str]]] = {}
        try:
            with database.atomic():
                for line, product_id, data in rows:
                    try:
                        _write(product_id, data, None, now)
                    except SkuTaken as exc:
                        taken[line] = exc.errors or {}
                if taken:
                    raise InvalidInput('SKUs of other products', taken)
        except peewee.IntegrityError:
            raise SkuTaken('Two products would share a SKU') from None
        return len(rows)


def _write(
    product_id: int, data: ProductWrite, expected_version: int | None, now: datetime
) -> bool:
    """Insert or replace one product inside the caller's transaction; True if new."""
    current = statements.fetch(queries.PRODUCTS_FOR_UPDATE, product_ids=[product_id])
    if expected_version is not None and (not current or current[0].version != expected_version):
        raise VersionMismatch(
            f'Product {product_id} is at version {current[0].version}, not {expected_version}'
            if current
            else f'Product {product_id} does not exist yet'
        )
    if data.sku is not None:
        owners = statements.fetch(queries.PRODUCT_WITH_SKU, sku=data.sku, product_id=product_id)
        if owners:
            raise _sku_taken(data.sku, owners[0].product_id)
    fields = {**dataclasses.asdict(data), 'updated_at': now}
    if data.tax_class is None:  # a CSV row that names none: the product keeps its own
        from chalicelib.catalog.commands import STANDARD_TAX_CLASS  # loaded by writes only

        fields['tax_class'] = current[0].tax_class if current else STANDARD_TAX_CLASS
    if current:
        statements.run(queries.REPLACE_PRODUCT, product_id=product_id, **fields)
        return False
    statements.insert(Product, [{'product_id': product_id, 'reserved': 0, 'version': 1, **fields}])
    return True


def _sku_taken(sku: str | None, owner: int | None = None) -> SkuTaken:
    return SkuTaken(
        f'SKU {sku!r} belongs to another product',
        {
            'sku': [
                f'Already the SKU of product {owner}.'
                if owner
                else 'Already the SKU of another product.'
            ]
        },
    )
