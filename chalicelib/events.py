"""Event content and the outbox row written in the same transaction as the change."""
import json
import uuid

from chalicelib.db import insert_rows
from chalicelib.domain import EVENT_SUBJECTS
from chalicelib.models import Outbox
from chalicelib.schemas import money_json, utc_iso


def event_message(event_id, event_type, order, status, moment):
    return {
        'event_id': event_id,
        'event_type': event_type,
        'order_id': order.order_id,
        'user_id': order.user_id,
        'user_email': order.user_email,
        'status': status,
        'order_total': money_json(order.order_total),
        'timestamp': utc_iso(moment),
    }


def record_event(event_type, order, moment, status=None):
    """Insert the event into the outbox; call inside the change's transaction."""
    event_id = str(uuid.uuid4())
    message = event_message(event_id, event_type, order,
                            status or order.status, moment)
    row = Outbox(
        event_id=event_id, event_type=event_type, order_id=order.order_id,
        subject=EVENT_SUBJECTS[event_type],
        body=json.dumps(message, separators=(',', ':')), created_at=moment)
    row.id = insert_rows(Outbox, [row.__data__])
    return row
