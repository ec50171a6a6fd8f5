"""The JSON shape of a return, from its stored rows (no marshmallow)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core import money
from chalicelib.core.clock import utc_iso
from chalicelib.storage.models import Return, ReturnItem


def dump_line(line: ReturnItem) -> dict[str, Any]:
    return {
        'order_item_id': line.order_item_id,
        'quantity': line.quantity,
        'reason': line.reason,
        'received': line.received,
        'restocked': None if line.restocked is None else bool(line.restocked),
    }


def dump_return(stored: Return, lines: Iterable[ReturnItem]) -> dict[str, Any]:
    return {
        'return_id': stored.return_id,
        'order_id': stored.order_id,
        'status': stored.status,
        'version': stored.version,
        'items': [dump_line(line) for line in lines],
        'note': stored.note,
        'deduction': money.to_json(stored.deduction),
        'refund_id': stored.refund_id,
        'created_at': utc_iso(stored.created_at),
        'updated_at': utc_iso(stored.updated_at),
    }
