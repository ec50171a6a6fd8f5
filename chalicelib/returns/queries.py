"""The returns' SQL: a return read and locked, its lines, what the order's
other returns hold, when the order was delivered, a change of a return by
version. Bound and run by storage/statements.py."""

from __future__ import annotations

from chalicelib.storage.model_rows import column_list
from chalicelib.storage.models import OrderHistory, Return, ReturnHistory, ReturnItem
from chalicelib.storage.statements import Statement

RETURN_COLUMNS = column_list(Return)

RETURN_OF_ORDER = Statement(
    Return,
    f'SELECT {RETURN_COLUMNS} FROM returns WHERE return_id = :return_id AND order_id = :order_id',
)
# Taken after the order's row, in every transaction that changes a return:
# the order first, then the return (refunds lock theirs in the same order).
RETURN_FOR_UPDATE = Statement(Return, RETURN_OF_ORDER.text, for_update=True)
RETURNS_OF_ORDER = Statement(
    Return, f'SELECT {RETURN_COLUMNS} FROM returns WHERE order_id = :order_id ORDER BY return_id'
)
LINES_OF = Statement(
    ReturnItem,
    (
        f'SELECT {column_list(ReturnItem)} FROM return_items '
        'WHERE return_id IN (:return_ids) ORDER BY id'
    ),
)
# Units of each line of the order that its returns hold (neither declined
# nor cancelled); read under the order's lock.
HELD_BY_RETURNS = Statement(
    ReturnItem,
    (
        'SELECT i.order_item_id, SUM(i.quantity) FROM return_items i '
        'JOIN returns r ON r.return_id = i.return_id '
        'WHERE r.order_id = :order_id AND r.status IN (:holding) GROUP BY i.order_item_id'
    ),
)
# Units of each line that received returns took back without a refund (a
# deduction kept all of it): settled, so later receipts round on from them.
SETTLED_WITHOUT_REFUND = Statement(
    ReturnItem,
    (
        'SELECT i.order_item_id, SUM(i.received) FROM return_items i '
        'JOIN returns r ON r.return_id = i.return_id '
        'WHERE r.order_id = :order_id AND r.status = :final_status AND r.refund_id IS NULL '
        'AND i.received > 0 GROUP BY i.order_item_id'
    ),
)
# When the order was delivered: its history's entry of that status.
DELIVERED_AT = Statement(
    OrderHistory,
    (
        'SELECT at FROM order_history '
        "WHERE order_id = :order_id AND status = 'delivered' ORDER BY version LIMIT 1"
    ),
)
# The version in the WHERE: the check and the write in one step (the row
# is locked too).
MOVE_RETURN = Statement(
    Return,
    (
        'UPDATE returns SET status = :status, version = :version + 1, '
        'updated_at = :updated_at, deduction = :deduction, '
        'deduction_reason = :deduction_reason, refund_id = :refund_id '
        'WHERE return_id = :return_id AND version = :version'
    ),
)
RECEIVE_LINE = Statement(
    ReturnItem,
    'UPDATE return_items SET received = :received, restocked = :restocked WHERE id = :id',
)
HISTORY_OF_RETURNS = Statement(
    ReturnHistory,
    (
        f'SELECT {column_list(ReturnHistory)} FROM return_history '
        'WHERE order_id = :order_id ORDER BY id'
    ),
)
