"""The returns service: each use case one transaction that locks the order
row, then the return's (the order every writer of an order's money takes),
applies what rules.py decides, and writes the return, its lines, its history
entry (in the order's history, leaving the order's version alone) and its
event in the outbox. Receiving also puts restocked units back on the shelf
and records the refund of what was paid for them (payments/refunds.py), all
in that one transaction; the refund is sent after the commit, as every
refund is. Two copies receiving one return at once: the second waits for
the first's locks, then finds the return received (409)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.catalog import stock
from chalicelib.core import money
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import Forbidden, InvalidInput, ReturnNotFound, VersionMismatch
from chalicelib.events import messages
from chalicelib.events.outbox import record_event
from chalicelib.identity.principal import Principal
from chalicelib.orders import idempotency
from chalicelib.orders.loaders import items_of, locked_order, readable_order
from chalicelib.payments.refunds import Claim, RefundService, line_refunds
from chalicelib.platform.config import get_settings
from chalicelib.platform.logs import log
from chalicelib.returns import access, queries, rules
from chalicelib.returns.answers import dump_return
from chalicelib.returns.commands import NewReturn, ReturnUpdate
from chalicelib.storage import statements
from chalicelib.storage.connection import database, retry_when_busy
from chalicelib.storage.models import Order, OrderItem, Outbox, Return, ReturnHistory, ReturnItem


class ReturnService:
    def __init__(
        self,
        refunds: RefundService,
        publish: Callable[[list[Outbox]], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.refunds = refunds
        self.publish = publish
        self.clock = clock

    # -- opening -------------------------------------------------------------
    def open_return(
        self,
        principal: Principal,
        order_id: int,
        new: NewReturn,
        key: str | None = None,
        request_hash: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """(the return, whether it is a replay)."""
        readable_order(principal, order_id)
        access.check_can_open(principal)
        now = self.clock()
        key, stored = idempotency.claim_or_replay(
            principal, key, request_hash, now, f'/orders/{order_id}/returns'
        )
        if stored is not None:
            return stored, True
        with idempotency.released_on_failure(key):
            answer, events = self._open(principal, order_id, new, key, now)
        self.publish(events)
        return answer, False

    @retry_when_busy
    def _open(
        self, principal: Principal, order_id: int, new: NewReturn, key: str | None, now: datetime
    ) -> tuple[dict[str, Any], list[Outbox]]:
        with database.atomic():
            order = locked_order(order_id)
            rules.check_can_open(
                principal.role,
                order.status,
                _delivered_at(order_id),
                now,
                get_settings().return_window_days,
            )
            order_items = items_of([order_id])[order_id]
            rules.check_lines(
                [(line.order_item_id, line.quantity) for line in new.items],
                {item.order_item_id: item.quantity for item in order_items},
                _held(order_id),
            )
            stored = Return(
                order=order_id,
                status=rules.REQUESTED,
                version=1,
                note=new.note,
                deduction=money.ZERO,
                deduction_reason=None,
                refund_id=None,
                actor_role=principal.role,
                actor_sub=principal.sub,
                created_at=now,
                updated_at=now,
            )
            stored.return_id = statements.insert_instance(stored)
            statements.insert(
                ReturnItem,
                [
                    {
                        'return_': stored.return_id,
                        'order_item_id': line.order_item_id,
                        'quantity': line.quantity,
                        'reason': line.reason,
                        'received': None,
                        'restocked': None,
                    }
                    for line in new.items
                ],
            )
            lines = _lines_of(stored.return_id)
            _write_history(stored, order, principal, now, None)
            event = record_event(
                messages.RETURN_REQUESTED,
                order,
                now,
                _details(stored, lines, order_items),
            )
            answer = dump_return(stored, lines)
            if key is not None:
                idempotency.complete(key, answer, order_id)
        log.info(
            'Return %s opened: order_id=%s',
            stored.return_id,
            order_id,
            extra={'order_id': order_id},
        )
        return answer, [event]

    # -- moving ----------------------------------------------------------------
    def update_return(
        self,
        principal: Principal,
        order_id: int,
        return_id: int,
        update: ReturnUpdate,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        readable_order(principal, order_id)
        if principal.role not in access.MOVERS:
            raise Forbidden('This caller may not change returns')
        answer, events, claims = self._move(
            principal, order_id, return_id, update, expected_version
        )
        self.publish(events)
        if claims:
            self.refunds.send(claims)
        return answer

    @retry_when_busy
    def _move(
        self,
        principal: Principal,
        order_id: int,
        return_id: int,
        update: ReturnUpdate,
        expected_version: int | None,
    ) -> tuple[dict[str, Any], list[Outbox], list[Claim]]:
        now = self.clock()
        with database.atomic():
            # The order first, then the return: the order every writer takes.
            order = locked_order(order_id)
            rows = statements.fetch(
                queries.RETURN_FOR_UPDATE, return_id=return_id, order_id=order_id
            )
            if not rows:
                raise ReturnNotFound()
            stored = rows[0]
            if expected_version is not None and stored.version != expected_version:
                raise VersionMismatch(
                    f'Return {return_id} is at version {stored.version}, not {expected_version}'
                )
            rules.check_move(stored.status, update.status)
            access.check_can_move(principal, stored.status, update.status)
            lines = _lines_of(return_id)
            order_items = items_of([order_id])[order_id]
            events: list[Outbox] = []
            claims: list[Claim] = []
            back: dict[int, int] = {}
            if update.status == rules.RECEIVED:
                events, claims, back = self._receive(
                    order, stored, lines, order_items, update, principal, now
                )
            if (
                statements.run(
                    queries.MOVE_RETURN,
                    return_id=return_id,
                    version=stored.version,
                    status=update.status,
                    updated_at=now,
                    deduction=stored.deduction,
                    deduction_reason=stored.deduction_reason,
                    refund_id=stored.refund_id,
                ).rowcount
                != 1
            ):
                raise VersionMismatch(f'Return {return_id} changed meanwhile')
            stored.status, stored.version, stored.updated_at = (
                update.status,
                stored.version + 1,
                now,
            )
            _write_history(stored, order, principal, now, update.reason)
            event_type = _EVENTS.get(update.status)
            if event_type is not None:
                # The return's event first; a refund that succeeded at once follows it.
                events.insert(
                    0,
                    record_event(
                        event_type,
                        order,
                        now,
                        _details(stored, lines, order_items, update.reason),
                    ),
                )
            answer = dump_return(stored, lines)
            # Last: product rows are the last rows a transaction locks.
            stock.restock(back)
        log.info(
            'Return %s %s: order_id=%s',
            return_id,
            update.status,
            order_id,
            extra={'order_id': order_id},
        )
        return answer, events, claims

    def _receive(
        self,
        order: Order,
        stored: Return,
        lines: list[ReturnItem],
        order_items: Sequence[OrderItem],
        update: ReturnUpdate,
        principal: Principal,
        now: datetime,
    ) -> tuple[list[Outbox], list[Claim], dict[int, int]]:
        """What arrived and its refund, inside the move's transaction, the
        order and the return locked: (events, refunds to send, the units of
        each product going back on the shelf, which the caller moves last).
        Updates `lines` and `stored` as written."""
        assert update.items is not None  # the schema requires them with received
        rules.check_receipt(
            {line.order_item_id: line.quantity for line in lines},
            [(line.order_item_id, line.received) for line in update.items],
        )
        deduction = update.deduction or money.ZERO
        if not money.fits_currency(deduction, order.currency):
            raise InvalidInput(
                'Invalid return update',
                {'deduction': [f'Must have no more decimals than {order.currency} allows.']},
            )
        arrived = {line.order_item_id: line for line in update.items}
        for line in lines:
            line.received = arrived[line.order_item_id].received
            line.restocked = arrived[line.order_item_id].restock
            statements.run(
                queries.RECEIVE_LINE, id=line.id, received=line.received, restocked=line.restocked
            )
        stored.deduction, stored.deduction_reason = deduction, update.reason
        state = line_refunds(order)
        # Units refunded, or settled by an earlier receipt that refunded
        # nothing (the deduction kept it all): each line's shares round on from there.
        counted = dict(state.refunded)
        for item_id, units in _settled_without_refund(order.order_id).items():
            counted[item_id] = counted.get(item_id, 0) + units
        refund = rules.receipt_refund(
            {line.order_item_id: line.received for line in lines if line.received},
            state.ordered,
            counted,
            deduction,
            state.left,
            order.currency,
        )
        events: list[Outbox] = []
        claims: list[Claim] = []
        if refund is not None:
            why = f'Return {stored.return_id}'
            if deduction > 0:
                why += f', less {money.display(deduction, order.currency)}: {update.reason}'
            stored.refund_id, events, claims = self.refunds.record_lines(
                order,
                refund.amount,
                [{'order_item_id': item_id, 'quantity': units} for item_id, units in refund.items],
                principal,
                now,
                why,
            )
        products = {item.order_item_id: item.product_id for item in order_items}
        back: dict[int, int] = {}
        for line in lines:
            if line.restocked and line.received:
                product_id = products[line.order_item_id]
                back[product_id] = back.get(product_id, 0) + line.received
        return events, claims, back

    # -- reading ---------------------------------------------------------------
    def list_returns(self, principal: Principal, order_id: int) -> list[dict[str, Any]]:
        readable_order(principal, order_id)
        returns = statements.fetch(queries.RETURNS_OF_ORDER, order_id=order_id)
        lines = _lines_by_return([stored.return_id for stored in returns])
        return [dump_return(stored, lines.get(stored.return_id, [])) for stored in returns]

    def get_return(self, principal: Principal, order_id: int, return_id: int) -> dict[str, Any]:
        readable_order(principal, order_id)
        rows = statements.fetch(queries.RETURN_OF_ORDER, return_id=return_id, order_id=order_id)
        if not rows:
            raise ReturnNotFound()
        return dump_return(rows[0], _lines_of(return_id))


_EVENTS = {
    rules.APPROVED: messages.RETURN_APPROVED,
    rules.DECLINED: messages.RETURN_DECLINED,
    rules.RECEIVED: messages.RETURN_RECEIVED,
}


def _delivered_at(order_id: int) -> datetime | None:
    rows = statements.fetch(queries.DELIVERED_AT, order_id=order_id)
    return rows[0].at if rows else None


def _held(order_id: int) -> dict[int, int]:
    return {
        int(item_id): int(units)
        for item_id, units in statements.run(
            queries.HELD_BY_RETURNS, order_id=order_id, holding=list(rules.HOLDING)
        ).fetchall()
    }


def _settled_without_refund(order_id: int) -> dict[int, int]:
    return {
        int(item_id): int(units)
        for item_id, units in statements.run(
            queries.SETTLED_WITHOUT_REFUND, order_id=order_id, final_status=rules.RECEIVED
        ).fetchall()
    }


def _lines_of(return_id: int) -> list[ReturnItem]:
    return _lines_by_return([return_id]).get(return_id, [])


def _lines_by_return(return_ids: Sequence[int]) -> dict[int, list[ReturnItem]]:
    lines: dict[int, list[ReturnItem]] = {}
    if return_ids:
        for line in statements.fetch(queries.LINES_OF, return_ids=list(return_ids)):
            lines.setdefault(line.return_id, []).append(line)
    return lines


def _details(
    stored: Return,
    lines: Sequence[ReturnItem],
    order_items: Sequence[OrderItem],
    reason: str | None = None,
) -> messages.ReturnDetails:
    sold: Mapping[int, OrderItem] = {item.order_item_id: item for item in order_items}
    return messages.return_details(
        stored.return_id,
        stored.status,
        [
            messages.ReturnLine(
                order_item_id=line.order_item_id,
                sku=sold[line.order_item_id].sku,
                name=sold[line.order_item_id].name,
                quantity=line.quantity,
                reason=line.reason,
                received=line.received,
                restocked=None if line.restocked is None else bool(line.restocked),
            )
            for line in lines
        ],
        reason=reason,
        refund_id=stored.refund_id,
        deduction=stored.deduction,
    )


def _write_history(
    stored: Return, order: Order, principal: Principal, now: datetime, reason: str | None
) -> None:
    """The return's entry in its order's history, at the version the order
    is at (the order's own version and status stay as they are)."""
    statements.insert(
        ReturnHistory,
        [
            {
                'return_': stored.return_id,
                'order': order.order_id,
                'order_version': order.version,
                'version': stored.version,
                'status': stored.status,
                'at': now,
                'actor_role': principal.role,
                'actor_sub': principal.sub,
                'reason': reason,
            }
        ],
    )
