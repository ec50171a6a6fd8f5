"""Publishing the events a request just committed, and the batches the relay
hands over: to SNS, or (no topic configured) to the notifier in this process.
Publishing is at least once; nothing here ever raises into a request."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core.clock import utcnow
from chalicelib.events.breaker import Breaker
from chalicelib.events.outbox import hand_to_relay_quietly, mark_published_quietly
from chalicelib.platform import metrics
from chalicelib.platform.logs import log
from chalicelib.storage.models import Outbox

# (row, SNS message id): the rows a publisher got out; None without SNS.
Published = list[tuple[Outbox, str | None]]


class EventHandler(Protocol):
    """The notifier, as far as publishing in process needs it."""

    def handle(self, body: str) -> bool: ...


class SnsPublisher:
    """Requests publish through `request_client` (one quick attempt) behind a
    breaker; the relay's batches go through `relay_client`, which retries.
    Both are callables: a client is made on first use."""

    def __init__(
        self,
        request_client: Callable[[], Any],
        relay_client: Callable[[], Any],
        topic_arn: str,
        clock: Callable[[], datetime] = utcnow,
        breaker: Breaker | None = None,
    ) -> None:
        self._request_client = request_client
        self._relay_client = relay_client
        self.topic_arn = topic_arn
        self.clock = clock
        self.breaker = breaker or Breaker()

    def publish_committed(self, rows: Sequence[Outbox]) -> None:
        """Publish the events a request just committed; what it does not
        publish it hands to the relay's next run. Never raises."""
        for index, row in enumerate(rows):
            if not self.breaker.allows():
                hand_to_relay_quietly(rows[index:])
                return
            try:
                response = self._request_client().publish(
                    TopicArn=self.topic_arn,
                    Subject=row.subject,
                    Message=row.body,
                    MessageAttributes=_attributes(row),
                )
            except Exception as exc:
                self.breaker.failed()
                _publish_failed(row, exc)
                hand_to_relay_quietly(rows[index:])
                return
            self.breaker.succeeded()
            mark_published_quietly([(row, response['MessageId'])], self.clock())
            metrics.emit('EventsPublished', 1)

    def publish_batch(self, rows: Sequence[Outbox]) -> Published:
        """Publish up to 10 rows; return [(row, message_id)] of those SNS took."""
        entries = [
            {
                'Id': str(row.id),
                'Message': row.body,
                'Subject': row.subject,
                'MessageAttributes': _attributes(row),
            }
            for row in rows
        ]
        by_id = {str(row.id): row for row in rows}
        try:
            response = self._relay_client().publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=entries
            )
        except Exception as exc:
            for row in rows:
                _publish_failed(row, exc)
            return []
        for failure in response.get('Failed', []):
            _publish_failed(
                by_id[failure['Id']], f'{failure.get("Code")}: {failure.get("Message")}'
            )
        return [(by_id[ok['Id']], ok['MessageId']) for ok in response.get('Successful', [])]


class LocalPublisher:
    """No SNS topic: hand each event to the notifier in this process."""

    def __init__(
        self, notifier: Callable[[], EventHandler], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.notifier = notifier  # a callable returning the notifier
        self.clock = clock

    def publish_committed(self, rows: Sequence[Outbox]) -> None:
        published = self.publish_batch(rows)
        if published:
            mark_published_quietly(published, self.clock())
        done = {row.id for row, _ in published}
        left = [row for row in rows if row.id not in done]
        if left:
            hand_to_relay_quietly(left)

    def publish_batch(self, rows: Sequence[Outbox]) -> Published:
        published: Published = []
        for row in rows:
            if self.notifier().handle(row.body):
                published.append((row, None))
            else:
                _publish_failed(row, 'the notifier asked for a retry')
        return published


def _attributes(row: Outbox) -> dict[str, dict[str, str]]:
    return {'event_type': {'DataType': 'String', 'StringValue': row.event_type}}


def _publish_failed(row: Outbox, reason: object) -> None:
    log.warning(
        'Event publish failed: event_id=%s %s',
        row.event_id,
        reason,
        extra={'event_id': row.event_id, 'order_id': row.order_id},
    )
    metrics.emit('EventPublishFailures', 1)
