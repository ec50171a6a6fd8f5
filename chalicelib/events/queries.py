"""The outbox's SQL: rows handed to the relay, rows marked published. Bound
and run by storage/statements.py."""

from chalicelib.storage.models import Outbox
from chalicelib.storage.statements import Statement

HAND_TO_RELAY = Statement(
    Outbox, ('UPDATE outbox SET relay_after = NULL WHERE id IN (:id) AND published_at IS NULL')
)
MARK_PUBLISHED = Statement(
    Outbox,
    (
        'UPDATE outbox SET published_at = :published_at, sns_message_id = :sns_message_id '
        'WHERE id = :id AND published_at IS NULL'
    ),
)
