"""Order counts kept beside the orders, so a list's `total` never scans the
table (a COUNT(*) over a million rows takes longer than the whole request).

Each status has SHARDS rows; a transaction that changes orders adds to one
shard picked at random, in the same transaction as the change, so concurrent
writers rarely wait on the same row. A total is the sum of a few rows."""

import random

import peewee

from chalicelib.catalog import stock
from chalicelib.orders import queries
from chalicelib.orders.lifecycle import STATUSES
from chalicelib.storage import statements
from chalicelib.storage.connection import database
from chalicelib.storage.models import Order, OrderCount

SHARDS = 16
# Orders whose lines may hold stock: not yet shipped, cancelled or deleted.
OPEN = {'pending', 'paid'}


def record_change(old_status: str | None = None, new_status: str | None = None) -> None:
    """Count an order entering new_status and/or leaving old_status; call
    inside the change's transaction."""
    if old_status == new_status:
        return
    shard = random.randrange(SHARDS)
    if old_status is None:
        statements.run(queries.COUNT_ENTER, shard=shard, status=new_status)
    elif new_status is None:
        statements.run(queries.COUNT_LEAVE, shard=shard, status=old_status)
    else:
        statements.run(
            queries.COUNT_MOVE, shard=shard, old_status=old_status, new_status=new_status
        )


def total(status: str | None = None) -> int:
    if status is None:
        n = statements.scalar(queries.COUNT_TOTAL)
    else:
        n = statements.scalar(queries.COUNT_TOTAL_WITH_STATUS, status=status)
    return int(n or 0)


def recount() -> dict[str, int]:
    """Rebuild the counts from the orders table (after a bulk load, say), and
    the stock the orders hold: lines of orders that are no longer open (a
    copy of the release before catalogs cancelled them during a rollout, say)
    stop holding, and each product's `reserved` is recounted from the lines.
    Run it while nothing else writes orders."""
    with database.atomic():
        statements.run(
            queries.RELEASE_CLOSED_LINES, holds_stock=False, closed=sorted(set(STATUSES) - OPEN)
        )
        stock.recount_reserved()
        # .tuples() yields (status, count); peewee's stubs say it yields models.
        counted: dict[str, int] = dict(
            Order.select(Order.status, peewee.fn.COUNT(Order.order_id))  # type: ignore[arg-type]
            .group_by(Order.status)
            .tuples()
        )
        OrderCount.delete().execute()
        OrderCount.insert_many(
            [
                {'status': status, 'shard': shard, 'n': counted.get(status, 0) if shard == 0 else 0}
                for status in STATUSES
                for shard in range(SHARDS)
            ]
        ).execute()
    return counted
