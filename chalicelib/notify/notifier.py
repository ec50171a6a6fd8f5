"""The email notifier: one SQS batch in, at most one email per event out, and
the message ids worth retrying back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import peewee

from chalicelib.core.clock import utcnow
from chalicelib.core.errors import DatabaseUnavailable
from chalicelib.events.messages import UnknownMessage, parse_event
from chalicelib.notify import mail
from chalicelib.notify.senders import Sender
from chalicelib.platform import metrics
from chalicelib.platform.logs import log
from chalicelib.storage.connection import CONNECTION_ERRORS, discard_if_broken
from chalicelib.storage.models import ProcessedEvent

# SES refused this email for good (a bad recipient, say): retrying won't help.
PERMANENT_SES_ERRORS = {'MessageRejected'}


def _is_permanent(exc: Exception) -> bool:
    code = getattr(exc, 'response', {}).get('Error', {}).get('Code')
    return code in PERMANENT_SES_ERRORS


class QueuedMessage(Protocol):
    """What the notifier reads of an SQS record (Powertools' SQSRecord)."""

    @property
    def message_id(self) -> str: ...

    @property
    def body(self) -> str: ...


class RetryLater(Exception):
    """The record could not be handled now (the reason is logged): retry it."""


def _nothing_to_connect() -> None:
    pass


class Notifier:
    """`connect` makes sure the database is reachable (DatabaseUnavailable
    if not), once per batch."""

    def __init__(self, sender: Sender, connect: Callable[[], object] = _nothing_to_connect) -> None:
        self.sender = sender
        self.connect = connect

    def handle_batch(self, event: dict[str, Any], context: Any = None) -> Mapping[str, object]:
        """An SQS event in, {'batchItemFailures': [...]} out. Powertools'
        batch processor runs each record on its own: whatever a record
        raises fails that record alone, and the others of the batch are not
        sent again because of it. A batch that failed whole is reported the
        same way (not raised): Lambda then retries every record of it."""
        try:
            self.connect()
        except DatabaseUnavailable:
            # One connect timeout for the batch, not one per record.
            log.error('Database unavailable: the whole batch will be retried')
            return {
                'batchItemFailures': [
                    {'itemIdentifier': record['messageId']} for record in event['Records']
                ]
            }
        # Imported here: 18 ms that only the notifier's cold start pays.
        from aws_lambda_powertools.utilities.batch import (
            BatchProcessor,
            EventType,
            process_partial_response,
        )

        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return process_partial_response(
            event=event, record_handler=self.handle_record, processor=processor, context=context
        )

    def handle_record(self, record: QueuedMessage) -> None:
        """One SQS record (message_id, body); raises when it is to be retried."""
        with log.append_context_keys(message_id=record.message_id):
            try:
                handled = self.handle(record.body)
            except Exception:
                log.exception('Unexpected error: the message will be retried')
                raise
        if not handled:
            raise RetryLater(record.message_id)

    def handle(self, body: str | bytes) -> bool:
        """Process one message; False means "retry it later"."""
        try:
            event = parse_event(body)
        except UnknownMessage as exc:
            log.warning('Dropping message: %s', exc)
            return True
        context = {'order_id': event['order_id'], 'event_id': event['event_id']}
        if not mail.wants_email(event['event_type']):
            log.info('No email for %s', event['event_type'], extra=context)
            return True
        if not event.get('user_email'):
            log.info('No user_email on the event: nothing to send', extra=context)
            return True
        try:
            message = mail.build_email(event, self.sender.sender)
            if not _claim(event['event_id']):
                log.info('Event already processed: no second email', extra=context)
                return True
        except CONNECTION_ERRORS as exc:
            discard_if_broken(exc)
            log.exception('Database unavailable: will retry', extra=context)
            return False
        try:
            self.sender.send(message)
        except Exception as exc:
            metrics.emit('EmailSendFailures', 1)
            if _is_permanent(exc):
                log.error('Email refused for good: %s', exc, extra=context)
                return True
            log.warning('Email send failed, will retry: %s', exc, extra=context)
            _release(event['event_id'])
            return False
        metrics.emit('EmailsSent', 1)
        log.info('Email sent for %s', event['event_type'], extra=context)
        return True


def _claim(event_id: str) -> bool:
    """Record the event before sending: a crash after this loses one email
    rather than ever sending two: each event is emailed at most once."""
    try:
        ProcessedEvent.create(event_id=event_id, processed_at=utcnow())
        return True
    except peewee.IntegrityError:
        return False


def _release(event_id: str) -> None:
    try:
        ProcessedEvent.delete().where(ProcessedEvent.event_id == event_id).execute()
    except CONNECTION_ERRORS as exc:
        discard_if_broken(exc)
        log.error('Could not release event %s: it will not be retried', event_id)
