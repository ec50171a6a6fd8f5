"""Order counts kept beside the orders, so a list's `total` never scans the
table (a COUNT(*) over a million rows takes longer than the whole request).

Each status has SHARDS rows; a transaction that changes orders adds to one
shard picked at random, in the same transaction as the change, so concurrent
writers rarely wait on the same row. A total is the sum of a few rows."""
import random

import peewee

from chalicelib.db import database, execute_compiled, run_compiled
from chalicelib.domain import STATUSES
from chalicelib.models import Order, OrderCount

SHARDS = 16


def record_change(old_status=None, new_status=None):
    """Count an order entering new_status and/or leaving old_status; call
    inside the change's transaction. One statement, so the rows it locks are
    always locked in the same (primary key) order."""
    deltas = {}
    if new_status is not None:
        deltas[new_status] = deltas.get(new_status, 0) + 1
    if old_status is not None:
        deltas[old_status] = deltas.get(old_status, 0) - 1
    deltas = {status: delta for status, delta in deltas.items() if delta}
    if not deltas:
        return
    shard = random.randrange(SHARDS)
    statuses = list(deltas)

    def build():
        change = peewee.Case(OrderCount.status, list(deltas.items()), 0)
        return (OrderCount.update(n=OrderCount.n + change)
                .where((OrderCount.shard == shard) & OrderCount.status.in_(statuses)))
    params = [value for pair in deltas.items() for value in pair] + [0, shard] + statuses
    execute_compiled(('count', tuple(deltas.items())), build, params)


def total(status=None):
    def build():
        query = OrderCount.select(peewee.fn.SUM(OrderCount.n).alias('n'))
        return query if status is None else query.where(OrderCount.status == status)
    params = [] if status is None else [status]
    [row] = run_compiled(OrderCount, ('total', status is None), build, params)
    return int(row.n or 0)


def recount():
    """Rebuild the counts from the orders table (after a bulk load, say).
    Run it while nothing else writes orders."""
    with database.atomic():
        counted = dict(Order.select(Order.status, peewee.fn.COUNT(Order.order_id))
                       .group_by(Order.status).tuples())
        OrderCount.delete().execute()
        OrderCount.insert_many([
            {'status': status, 'shard': shard,
             'n': counted.get(status, 0) if shard == 0 else 0}
            for status in STATUSES for shard in range(SHARDS)]).execute()
    return counted
