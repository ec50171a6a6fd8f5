"""The contract's Email notifier, end to end through moto: POST -> SNS -> SQS
-> email_notifier -> SES, and the local flow that writes .eml files."""

import email
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from email import policy
from types import SimpleNamespace

from botocore.exceptions import ClientError

from chalicelib.events.messages import (
    RETURN_APPROVED,
    RETURN_DECLINED,
    RETURN_RECEIVED,
    RETURN_REQUESTED,
    SUBJECTS,
    event_body,
    return_details,
)
from chalicelib.storage.models import ProcessedEvent
from chalicelib.wiring import runtime
from tests.support import SENDER, create_order, send, sent_emails


def invoke_notifier(client, event):
    return client.lambda_.invoke('email_notifier', event).payload


def test_created_order_sends_one_confirmation_email_through_ses(aws_world, client):
    order = create_order(client, user_email='ada@example.com')
    messages = aws_world.receive()

    result = invoke_notifier(client, aws_world.sqs_event(messages))

    assert result == {'batchItemFailures': []}
    [sent] = sent_emails()
    assert sent.destinations == ['ada@example.com']
    mime = email.message_from_string(sent.raw_data, policy=policy.default)
    assert mime['Subject'] == f'Order #{order["order_id"]} confirmed'
    assert mime['From'] == SENDER
    assert mime['To'] == 'ada@example.com'
    text = mime.get_body(('plain',)).get_content()
    html = mime.get_body(('html',)).get_content()
    assert '109.97' in text and '109.97' in html


def emails_by_subject():
    return {
        mime['Subject']: mime
        for mime in (
            email.message_from_string(m.raw_data, policy=policy.default) for m in sent_emails()
        )
    }


def test_shipping_email_carries_the_tracking_given_with_the_status(aws_world, client):
    order = create_order(client, user_email='ada@example.com')
    send(
        client,
        'PUT',
        f'/orders/{order["order_id"]}',
        {
            'status': 'shipped',
            'carrier': 'DHL <Express>',
            'tracking_number': 'JD-0142',
            'tracking_url': 'https://track.example.com/JD-0142',
        },
    )

    invoke_notifier(client, aws_world.sqs_event(aws_world.receive()))

    mime = emails_by_subject()[f'Order #{order["order_id"]} has shipped']
    text = mime.get_body(('plain',)).get_content()
    html = mime.get_body(('html',)).get_content()
    assert 'DHL <Express>' in text and 'JD-0142' in text
    assert 'DHL &lt;Express&gt;' in html
    assert '<a href="https://track.example.com/JD-0142">' in html


def test_cancellation_sends_its_own_email_with_reason_and_refund(aws_world, client):
    order = create_order(client, user_email='ada@example.com')
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'paid'})
    send(
        client,
        'PUT',
        f'/orders/{order["order_id"]}',
        {'status': 'cancelled', 'reason': '<i>Found it cheaper</i>'},
    )

    result = invoke_notifier(client, aws_world.sqs_event(aws_world.receive()))

    assert result == {'batchItemFailures': []}
    oid = order['order_id']
    emails = emails_by_subject()
    assert set(emails) == {
        f'Order #{oid} confirmed',
        f'Order #{oid} is now paid',
        f'Order #{oid} has been cancelled',
        f'Refund for order #{oid}',
    }
    mime = emails[f'Order #{oid} has been cancelled']
    text = mime.get_body(('plain',)).get_content()
    html = mime.get_body(('html',)).get_content()
    assert 'Refund due: 109.97 USD' in text and '<strong>109.97 USD</strong>' in html
    assert '<i>Found it cheaper</i>' in text
    assert '&lt;i&gt;Found it cheaper&lt;/i&gt;' in html and '<i>' not in html


def test_redelivered_message_sends_no_second_email(aws_world, client):
    create_order(client, user_email='ada@example.com')
    event = aws_world.sqs_event(aws_world.receive())

    invoke_notifier(client, event)
    result = invoke_notifier(client, event)

    assert result == {'batchItemFailures': []}
    assert len(sent_emails()) == 1


def test_shipping_and_status_emails_have_their_own_subjects(aws_world, client):
    order = create_order(client, user_email='ada@example.com')
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'paid'})
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'shipped'})
    send(client, 'DELETE', f'/orders/{order["order_id"]}')

    invoke_notifier(client, aws_world.sqs_event(aws_world.receive()))

    subjects = sorted(email.message_from_string(m.raw_data)['Subject'] for m in sent_emails())
    oid = order['order_id']
    assert subjects == sorted(
        [f'Order #{oid} confirmed', f'Order #{oid} is now paid', f'Order #{oid} has shipped']
    )  # no email for order_deleted


class SesFailingFor:
    """Real (moto) SES, except for one recipient, for whom SES is throttling."""

    def __init__(self, real, recipient):
        self.real, self.recipient = real, recipient

    def send_raw_email(self, **kwargs):
        if f'To: {self.recipient}'.encode() in kwargs['RawMessage']['Data']:
            raise ClientError(
                {'Error': {'Code': 'Throttling', 'Message': 'slow down'}}, 'SendRawEmail'
            )
        return self.real.send_raw_email(**kwargs)


def test_batch_reports_only_the_ses_failed_record_and_drops_garbage(aws_world, client, monkeypatch):
    create_order(client, user_email='good@example.com')
    create_order(client, user_email='throttled@example.com')
    messages = aws_world.receive()
    garbage = {'MessageId': 'garbage-1', 'ReceiptHandle': 'r', 'Body': 'not json at all'}
    unknown = {
        'MessageId': 'unknown-1',
        'ReceiptHandle': 'r',
        'Body': json.dumps({'hello': 'world'}),
    }
    by_recipient = {json.loads(json.loads(m['Body'])['Message'])['user_email']: m for m in messages}
    sender = runtime.notifier().sender
    monkeypatch.setattr(
        sender, '_client', lambda: SesFailingFor(aws_world.ses, 'throttled@example.com')
    )

    result = invoke_notifier(
        client,
        aws_world.sqs_event(
            [
                garbage,
                by_recipient['good@example.com'],
                unknown,
                by_recipient['throttled@example.com'],
            ]
        ),
    )

    assert result == {
        'batchItemFailures': [
            {'itemIdentifier': by_recipient['throttled@example.com']['MessageId']}
        ]
    }
    assert [m.destinations for m in sent_emails()] == [['good@example.com']]
    monkeypatch.undo()
    # Retried once SES is back, the failed record sends its email.
    retry = invoke_notifier(client, aws_world.sqs_event([by_recipient['throttled@example.com']]))
    assert retry == {'batchItemFailures': []}
    assert len(sent_emails()) == 2


def test_an_unexpected_error_in_one_record_fails_that_record_alone(aws_world, client, monkeypatch):
    create_order(client, user_email='ada@example.com')
    create_order(client, user_email='doomed@example.com')
    create_order(client, user_email='bob@example.com')
    messages = aws_world.receive()
    from chalicelib.notify import mail

    build_email = mail.build_email

    def build_or_explode(event, sender):
        if event['user_email'] == 'doomed@example.com':
            raise KeyError('a template variable nobody planned for')
        return build_email(event, sender)

    monkeypatch.setattr(mail, 'build_email', build_or_explode)
    doomed = [m['MessageId'] for m in messages if 'doomed@' in m['Body']]

    result = invoke_notifier(client, aws_world.sqs_event(messages))

    assert result == {'batchItemFailures': [{'itemIdentifier': doomed[0]}]}
    assert sorted(m.destinations[0] for m in sent_emails()) == [
        'ada@example.com',
        'bob@example.com',
    ]
    # Its event was not claimed: once the bug is fixed, the retry sends it.
    monkeypatch.undo()
    retry = [m for m in messages if m['MessageId'] in doomed]
    assert invoke_notifier(client, aws_world.sqs_event(retry)) == {'batchItemFailures': []}
    assert len(sent_emails()) == 3


def test_permanently_refused_email_is_not_retried(aws_world, client, monkeypatch):
    create_order(client, user_email='nobody@example.com')
    messages = aws_world.receive()

    class Rejecting:
        def send_raw_email(self, **kwargs):
            raise ClientError(
                {'Error': {'Code': 'MessageRejected', 'Message': 'no'}}, 'SendRawEmail'
            )

    monkeypatch.setattr(runtime.notifier().sender, '_client', lambda: Rejecting())

    assert invoke_notifier(client, aws_world.sqs_event(messages)) == {'batchItemFailures': []}


def test_event_without_user_email_sends_nothing_and_is_not_a_failure(aws_world, client):
    create_order(client)

    result = invoke_notifier(client, aws_world.sqs_event(aws_world.receive()))

    assert result == {'batchItemFailures': []}
    assert sent_emails() == []


def test_raw_delivery_without_sns_envelope_is_understood(aws_world, client):
    create_order(client, user_email='ada@example.com')
    [message] = aws_world.receive()
    message['Body'] = json.loads(message['Body'])['Message']

    assert invoke_notifier(client, aws_world.sqs_event([message])) == {'batchItemFailures': []}
    assert len(sent_emails()) == 1


def test_hostile_email_address_is_escaped_in_the_html(aws_world, client):
    hostile = '"<script>alert(1)</script>"@example.com'
    create_order(client, user_email=hostile)

    invoke_notifier(client, aws_world.sqs_event(aws_world.receive()))

    [sent] = sent_emails()
    html = (
        email.message_from_string(sent.raw_data, policy=policy.default)
        .get_body(('html',))
        .get_content()
    )
    assert '<script>' not in html
    assert '&lt;script&gt;' in html


def test_database_down_fails_the_whole_batch_for_retry(aws_world, client, monkeypatch):
    create_order(client, user_email='ada@example.com')
    messages = aws_world.receive()
    from chalicelib.core.errors import DatabaseUnavailable

    def down():
        raise DatabaseUnavailable()

    monkeypatch.setattr(runtime, 'database', down)

    result = invoke_notifier(client, aws_world.sqs_event(messages))

    assert result == {'batchItemFailures': [{'itemIdentifier': messages[0]['MessageId']}]}
    assert sent_emails() == []


def test_local_flow_writes_an_eml_file_without_any_aws(client, environment):
    order = create_order(client, user_email='ada@example.com')
    send(client, 'PUT', f'/orders/{order["order_id"]}', {'status': 'shipped'})

    mail_dir = environment.mail_dir
    files = sorted(os.listdir(mail_dir))
    assert len(files) == 2 and all(name.endswith('.eml') for name in files)
    subjects = set()
    for name in files:
        with open(os.path.join(mail_dir, name), 'rb') as handle:
            message = email.message_from_binary_file(handle, policy=policy.default)
        subjects.add(message['Subject'])
        assert message['To'] == 'ada@example.com'
        assert message.get_body(('html',)) is not None
    assert subjects == {
        f'Order #{order["order_id"]} confirmed',
        f'Order #{order["order_id"]} has shipped',
    }
    assert ProcessedEvent.select().count() == 2


# -- return events ----------------------------------------------------------------


def return_event(event_type, return_status, **details):
    """A return event as the returns service builds it (event_body with
    return_details) for a delivered order of ada's."""
    order = SimpleNamespace(
        order_id=7,
        user_id=1,
        user_email='ada@example.com',
        status='delivered',
        order_total=Decimal('2400'),
        currency='JPY',
    )
    line = {
        'order_item_id': 12,
        'sku': 'MUG-1',
        'name': 'Mug <large>',
        'quantity': 2,
        'reason': 'Too small',
        'received': None,
        'restocked': None,
    }
    body = event_body(
        f'e-{event_type}',
        event_type,
        order,
        datetime(2026, 12, 7, 10, tzinfo=UTC),
        return_details(3, return_status, [line], **details),
    )
    return json.loads(json.dumps(body))


def publish(aws_world, event):
    aws_world.sns.publish(
        TopicArn=aws_world.topic_arn,
        Message=json.dumps(event),
        Subject=SUBJECTS[event['event_type']],
        MessageAttributes={
            'event_type': {'DataType': 'String', 'StringValue': event['event_type']}
        },
    )


def test_return_events_send_their_emails_through_ses_and_receiving_sends_none(
    aws_world, client, monkeypatch
):
    monkeypatch.setenv('RETURN_INSTRUCTIONS', 'Post it to:\nReturns <Dock 4>, Leeds')
    runtime.reset()
    publish(aws_world, return_event(RETURN_REQUESTED, 'requested'))
    publish(aws_world, return_event(RETURN_APPROVED, 'approved'))
    publish(aws_world, return_event(RETURN_DECLINED, 'declined', reason='<b>Worn</b>'))
    publish(aws_world, return_event(RETURN_RECEIVED, 'received', refund_id=9))

    result = invoke_notifier(client, aws_world.sqs_event(aws_world.receive()))

    assert result == {'batchItemFailures': []}
    sent = emails_by_subject()
    assert sorted(sent) == [
        'Return #3 for order #7 approved',
        'Return #3 for order #7 declined',
        'Return #3 for order #7: request received',
    ]
    approved = sent['Return #3 for order #7 approved']
    assert approved['To'] == 'ada@example.com'
    text = approved.get_body(('plain',)).get_content()
    html = approved.get_body(('html',)).get_content()
    assert '2 x Mug <large> (MUG-1)' in text and 'Mug &lt;large&gt; (MUG-1)' in html
    assert 'Post it to:\nReturns <Dock 4>, Leeds' in text
    assert 'Returns &lt;Dock 4&gt;, Leeds' in html and '<Dock 4>' not in html
    assert 'Total:  2400 JPY' in text
    declined = sent['Return #3 for order #7 declined'].get_body(('html',)).get_content()
    assert '&lt;b&gt;Worn&lt;/b&gt;' in declined and '<b>Worn</b>' not in declined
    # The three emails are claimed once each; the receipt, sending nothing, claims nothing.
    assert ProcessedEvent.select().count() == 3


def test_a_return_event_without_ses_is_written_as_an_eml_file(client, environment):
    event = return_event(RETURN_REQUESTED, 'requested')
    sqs_event = {
        'Records': [
            {
                'messageId': 'm-1',
                'receiptHandle': 'r-1',
                'body': json.dumps(event),
                'attributes': {},
                'messageAttributes': {},
                'md5OfBody': '',
                'eventSource': 'aws:sqs',
                'eventSourceARN': 'arn:aws:sqs:us-east-1:123456789012:orders-notifications',
                'awsRegion': 'us-east-1',
            }
        ]
    }

    assert invoke_notifier(client, sqs_event) == {'batchItemFailures': []}

    [name] = os.listdir(environment.mail_dir)
    assert name.endswith(f'-{event["event_id"]}.eml')
    with open(os.path.join(environment.mail_dir, name), 'rb') as handle:
        message = email.message_from_binary_file(handle, policy=policy.default)
    assert message['Subject'] == 'Return #3 for order #7: request received'
    assert '2 x Mug <large> (MUG-1)\n      Reason: Too small' in (
        message.get_body(('plain',)).get_content()
    )
