"""The JSON shape of a refund, from its stored row (no marshmallow)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core import money
from chalicelib.core.clock import utc_iso
from chalicelib.storage.models import Refund


def dump_refund(refund: Refund) -> dict[str, Any]:
    return {
        'refund_id': refund.refund_id,
        'order_id': refund.order_id,
        'amount': money.to_json(refund.amount),
        'currency': refund.currency,
        'status': refund.status,
        'reason': refund.reason,
        'items': json.loads(refund.items) if refund.items else None,
        'created_at': utc_iso(refund.created_at),
    }
