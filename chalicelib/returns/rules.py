"""What a return may be and what it gives back. Pure: no database, no HTTP,
no AWS.

    requested ──> approved ──> received
        │   │         │
        │   └──> declined
        └────────────┴──> cancelled

`received`, `declined` and `cancelled` are final. A line is never returned
beyond what was ordered less what its other returns (neither declined nor
cancelled) hold. Receiving refunds what was paid for the units that came
back, by the per-line rule of orders/totals.refund_share (counting what
earlier refunds gave back of each line), less the deduction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from chalicelib.core import money
from chalicelib.core.errors import InvalidInput, ReturnConflict, TransitionForbidden
from chalicelib.core.lazy import lazy_import
from chalicelib.identity.principal import STAFF

if TYPE_CHECKING:
    from chalicelib.orders import totals
else:
    totals = lazy_import('chalicelib.orders.totals')

REQUESTED, APPROVED, DECLINED, CANCELLED, RECEIVED = (
    'requested',
    'approved',
    'declined',
    'cancelled',
    'received',
)
STATUSES = (REQUESTED, APPROVED, DECLINED, CANCELLED, RECEIVED)
MOVES: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({APPROVED, DECLINED, CANCELLED}),
    APPROVED: frozenset({CANCELLED, RECEIVED}),
    DECLINED: frozenset(),
    CANCELLED: frozenset(),
    RECEIVED: frozenset(),
}
# The returns that hold units of their lines (the others gave them back).
HOLDING = (REQUESTED, APPROVED, RECEIVED)
# The statuses a move may ask for (a return is opened requested).
TARGETS = (APPROVED, DECLINED, CANCELLED, RECEIVED)
# Order statuses a return may be opened on: customers need delivered.
STAFF_OPENS_ON = ('shipped', 'delivered')
CUSTOMER_OPENS_ON = 'delivered'


def check_move(current: str, new: str) -> None:
    """Raise TransitionForbidden (409, naming both states) for a move the
    lifecycle does not allow; setting the status a return has is one too."""
    if new not in MOVES[current]:
        final = '' if MOVES[current] else f": '{current}' is final"
        raise TransitionForbidden(
            f"Cannot change the return's status from '{current}' to '{new}'{final}"
        )


def check_can_open(
    role: str,
    order_status: str,
    delivered_at: datetime | None,
    now: datetime,
    window_days: int,
) -> None:
    """Staff open returns on shipped or delivered orders at any time; the
    customer on a delivered one, within `window_days` of its delivery (0:
    never). Anything else is a 409."""
    if role == STAFF:
        if order_status not in STAFF_OPENS_ON:
            raise ReturnConflict(
                f"Cannot open a return on a '{order_status}' order: only on a shipped "
                'or delivered one'
            )
        return
    if order_status != CUSTOMER_OPENS_ON:
        raise ReturnConflict(
            f"Cannot open a return on a '{order_status}' order: only once it is delivered"
        )
    if window_days <= 0:
        raise ReturnConflict('Returns are opened by the shop: contact us to send goods back')
    closes = (delivered_at or now) + timedelta(days=window_days)
    if delivered_at is None or now > closes:
        raise ReturnConflict(f'The return window of {window_days} days after delivery has closed')


def check_lines(
    requested: Sequence[tuple[int, int]],
    ordered: Mapping[int, int],
    held: Mapping[int, int],
) -> None:
    """requested: (order_item_id, quantity) by index; ordered: each line's
    quantity; held: the units of each line the order's other returns hold.
    A line not of the order, or named twice: 400 keyed by index. More than
    is left of a line: 409 keyed by index."""
    unknown: dict[str, dict[str, list[str]]] = {}
    seen: set[int] = set()
    for index, (item_id, _) in enumerate(requested):
        if item_id not in ordered:
            unknown[str(index)] = {'order_item_id': ['Not an item of this order.']}
        elif item_id in seen:
            unknown[str(index)] = {'order_item_id': ['Named twice: give each line once.']}
        seen.add(item_id)
    if unknown:
        raise InvalidInput('Invalid return', {'items': unknown})
    beyond = {}
    for index, (item_id, quantity) in enumerate(requested):
        left = ordered[item_id] - held.get(item_id, 0)
        if quantity > left:
            beyond[str(index)] = {
                'quantity': [f'Only {max(left, 0)} of this line may be returned.']
            }
    if beyond:
        raise ReturnConflict('More of a line than may still be returned', {'items': beyond})


def check_receipt(lines: Mapping[int, int], received: Sequence[tuple[int, int]]) -> None:
    """lines: the return's order_item_id -> quantity; received: (order_item_id,
    units) by index. Every line of the return once, 0..its quantity: else 400."""
    errors: dict[str, dict[str, list[str]]] = {}
    seen: set[int] = set()
    for index, (item_id, units) in enumerate(received):
        if item_id not in lines:
            errors[str(index)] = {'order_item_id': ['Not a line of this return.']}
        elif item_id in seen:
            errors[str(index)] = {'order_item_id': ['Named twice: give each line once.']}
        elif units > lines[item_id]:
            errors[str(index)] = {
                'received': [f'At most {lines[item_id]}: the units this line returns.']
            }
        seen.add(item_id)
    if errors:
        raise InvalidInput('Invalid receipt', {'items': errors})
    missing = sorted(set(lines) - seen)
    if missing:
        raise InvalidInput(
            'Invalid receipt',
            {
                'items': [
                    'Give every line of the return; missing order_item_id '
                    + ', '.join(map(str, missing))
                    + '.'
                ]
            },
        )


@dataclass(frozen=True)
class ReceiptRefund:
    """What receiving gives back: the amount, and the units of each line it
    pays for (they count as refunded, so no later refund pays them again)."""

    amount: Decimal
    items: tuple[tuple[int, int], ...]  # (order_item_id, units)


def receipt_refund(
    received: Mapping[int, int],
    ordered: Mapping[int, tuple[int, Decimal]],
    refunded: Mapping[int, int],
    deduction: Decimal,
    left: Decimal,
    currency: str,
) -> ReceiptRefund | None:
    """received: order_item_id -> units that came back; ordered: order_item_id
    -> (quantity, what was paid for the whole line); refunded: units of each
    line refunded or being refunded already; left: what the order may still
    refund at all. Units a line has no refundable units left for are not paid
    twice; the sum is less the deduction and never more than `left`. None:
    nothing to refund."""
    total = money.ZERO
    items = []
    for item_id, units in sorted(received.items()):
        quantity, paid = ordered[item_id]
        before = refunded.get(item_id, 0)
        units = min(units, quantity - before)
        if units <= 0:
            continue
        total += totals.refund_share(paid, quantity, before, units, currency)
        items.append((item_id, units))
    amount = min(total - deduction, left)
    if amount <= 0:
        return None
    return ReceiptRefund(amount, tuple(items))
