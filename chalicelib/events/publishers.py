"""Publishing the events a request just committed, and the batches the relay
hands over: to SNS, or (no topic configured) to the notifier in this process.
Publishing is at least once; nothing here ever raises into a request."""
import time

from chalicelib import metrics
from chalicelib.clock import utcnow
from chalicelib.events.outbox import mark_published_quietly
from chalicelib.logs import log

# After a failed publish, requests stop trying SNS for this long and leave
# their events to the relay, so an SNS outage never slows an order request.
BREAKER_SECONDS = 30.0


class SnsPublisher:
    def __init__(self, sns_client, topic_arn, clock=utcnow):
        self._client = sns_client  # a callable: the client is made on first use
        self.topic_arn = topic_arn
        self.clock = clock
        self._paused_until = 0.0

    def publish_committed(self, rows):
        """Publish the events a request just committed; never raises."""
        if time.monotonic() < self._paused_until:
            return
        for row in rows:
            try:
                response = self._client().publish(
                    TopicArn=self.topic_arn, Subject=row.subject, Message=row.body,
                    MessageAttributes=_attributes(row))
            except Exception as exc:
                self._paused_until = time.monotonic() + BREAKER_SECONDS
                _publish_failed(row, exc)
                return
            mark_published_quietly([(row, response['MessageId'])], self.clock())
            metrics.emit('EventsPublished', 1)

    def publish_batch(self, rows):
        """Publish up to 10 rows; return [(row, message_id)] of those SNS took."""
        entries = [{'Id': str(row.id), 'Message': row.body, 'Subject': row.subject,
                    'MessageAttributes': _attributes(row)} for row in rows]
        by_id = {str(row.id): row for row in rows}
        try:
            response = self._client().publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
        except Exception as exc:
            for row in rows:
                _publish_failed(row, exc)
            return []
        for failure in response.get('Failed', []):
            _publish_failed(by_id[failure['Id']],
                            f"{failure.get('Code')}: {failure.get('Message')}")
        return [(by_id[ok['Id']], ok['MessageId'])
                for ok in response.get('Successful', [])]


class LocalPublisher:
    """No SNS topic: hand each event to the notifier in this process."""

    def __init__(self, notifier, clock=utcnow):
        self.notifier = notifier  # a callable returning the notifier
        self.clock = clock

    def publish_committed(self, rows):
        published = self.publish_batch(rows)
        if published:
            mark_published_quietly(published, self.clock())

    def publish_batch(self, rows):
        published = []
        for row in rows:
            if self.notifier().handle(row.body):
                published.append((row, None))
            else:
                _publish_failed(row, 'the notifier asked for a retry')
        return published


def _attributes(row):
    return {'event_type': {'DataType': 'String', 'StringValue': row.event_type}}


def _publish_failed(row, reason):
    log.warning('Event publish failed: event_id=%s %s', row.event_id, reason,
                extra={'event_id': row.event_id, 'order_id': row.order_id})
    metrics.emit('EventPublishFailures', 1)
