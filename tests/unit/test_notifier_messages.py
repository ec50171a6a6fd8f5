"""Parsing queue messages and building emails: no database, no AWS."""

import email
import json
from email import policy

import pytest

from chalicelib.events.messages import UnknownMessage, parse_event
from chalicelib.notify import mail, senders

EVENT = {
    'event_id': 'e-1',
    'event_type': 'order_created',
    'order_id': 7,
    'user_id': 1,
    'user_email': 'ada@example.com',
    'status': 'pending',
    'order_total': 0.3,
    'currency': 'USD',
    'timestamp': '2026-11-25T10:00:00.000000Z',
}


def test_event_is_read_from_an_sns_envelope():
    envelope = {'Type': 'Notification', 'Subject': 'Order Created', 'Message': json.dumps(EVENT)}

    assert parse_event(json.dumps(envelope)) == EVENT


def test_event_is_read_from_raw_delivery():
    assert parse_event(json.dumps(EVENT)) == EVENT


@pytest.mark.parametrize(
    'body',
    [
        'not json',
        '[]',
        '{}',
        json.dumps({**EVENT, 'event_type': 'order_exploded'}),
        json.dumps({**EVENT, 'order_id': '7'}),
        json.dumps({'Type': 'Notification'}),
        json.dumps({'Type': 'Notification', 'Message': 'nope'}),
        json.dumps({k: v for k, v in EVENT.items() if k != 'status'}),
        json.dumps({**EVENT, 'order_total': '0.3'}),
        json.dumps({**EVENT, 'order_total': True}),
    ],
)
def test_anything_but_a_known_event_is_unknown(body):
    with pytest.raises(UnknownMessage):
        parse_event(body)


def test_confirmation_email_has_text_and_html_with_exact_total():
    message = mail.build_email(EVENT, 'orders@shop.example.com')

    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed['Subject'] == 'Order #7 confirmed'
    assert parsed['From'] == 'orders@shop.example.com'
    assert parsed['X-Order-Event-Id'] == 'e-1'
    assert 'Total:  0.30 USD' in parsed.get_body(('plain',)).get_content()
    assert '0.30' in parsed.get_body(('html',)).get_content()


def test_the_confirmation_shows_what_the_total_is_made_of():
    event = {
        **EVENT,
        'order_total': 110.45,
        'subtotal': 109.97,
        'discount_total': 11.0,
        'shipping_total': 4.99,
        'tax_total': 6.49,
    }

    parsed = email.message_from_bytes(
        mail.build_email(event, 'a@b.c').as_bytes(), policy=policy.default
    )

    text = parsed.get_body(('plain',)).get_content()
    html = parsed.get_body(('html',)).get_content()
    for line in (
        'Subtotal: 109.97 USD',
        'Discount: 11.00 USD',
        'Shipping: 4.99 USD',
        'Tax:      6.49 USD',
        'Total:  110.45 USD',
    ):
        assert line in text
    assert '<td>Tax</td><td>6.49 USD</td>' in html


def test_an_event_without_a_breakdown_shows_the_total_alone():
    text = email.message_from_bytes(
        mail.build_email(EVENT, 'a@b.c').as_bytes(), policy=policy.default
    ).get_body(('plain',))

    assert 'Subtotal' not in text.get_content()


@pytest.mark.parametrize(
    'event_type, status, subject',
    [
        ('order_shipped', 'shipped', 'Order #7 has shipped'),
        ('order_updated', 'cancelled', 'Order #7 is now cancelled'),
    ],
)
def test_each_event_type_has_its_subject(event_type, status, subject):
    message = mail.build_email({**EVENT, 'event_type': event_type, 'status': status}, 'a@b.c')

    assert message['Subject'] == subject


def test_an_address_change_says_so_and_shows_what_the_order_costs_now():
    moved = {
        **EVENT,
        'event_type': 'order_updated',
        'status': 'pending',
        'subtotal': 109.97,
        'discount_total': 0,
        'shipping_total': 0,
        'tax_total': 6.87,
        'order_total': 116.84,
    }

    message = mail.build_email(moved, 'a@b.c')
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    text = parsed.get_body(('plain',)).get_content()

    assert message['Subject'] == 'Order #7 updated'
    assert 'its addresses changed' in text
    assert 'Tax:      6.87 USD' in text and 'Total:  116.84 USD' in text
    assert 'status of your order changed' not in text


def test_deleted_orders_get_no_email():
    assert not mail.wants_email('order_deleted')


def test_markup_in_the_address_is_escaped_in_html_and_kept_in_text():
    hostile = {**EVENT, 'user_email': '"<b>x</b>"@example.com'}

    parsed = email.message_from_bytes(
        mail.build_email(hostile, 'a@b.c').as_bytes(), policy=policy.default
    )

    html = parsed.get_body(('html',)).get_content()
    assert '<b>x</b>' not in html and '&lt;b&gt;x&lt;/b&gt;' in html
    assert '<b>x</b>' in parsed.get_body(('plain',)).get_content()


def test_mail_dir_sender_writes_an_eml_file_a_mail_client_can_parse(tmp_path):
    sender = senders.MailDirSender(str(tmp_path / 'mail'))

    sender.send(mail.build_email(EVENT, sender.sender))

    [written] = list((tmp_path / 'mail').iterdir())
    assert written.name.endswith('-e-1.eml')
    parsed = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert parsed['To'] == 'ada@example.com'


class RecordingSender:
    sender = 'orders@shop.example.com'

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message['To'])


def sqs_event(*records):
    """An SQS event as Lambda hands it over: (message_id, body) per record."""
    return {
        'Records': [
            {
                'messageId': message_id,
                'receiptHandle': f'r-{message_id}',
                'body': body,
                'attributes': {},
                'messageAttributes': {},
                'md5OfBody': '',
                'eventSource': 'aws:sqs',
                'eventSourceARN': 'arn:aws:sqs:us-east-1:123456789012:orders-notifications',
                'awsRegion': 'us-east-1',
            }
            for message_id, body in records
        ]
    }


def test_an_unexpected_error_fails_only_its_own_record(monkeypatch):
    from chalicelib.notify import notifier as notifier_module

    build_email = mail.build_email

    def exploding_build(event, sender):
        if event['event_id'] == 'e-2':
            raise RuntimeError('an error nobody planned for')
        return build_email(event, sender)

    monkeypatch.setattr(notifier_module.mail, 'build_email', exploding_build)
    monkeypatch.setattr(notifier_module, '_claim', lambda event_id: True)
    sender = RecordingSender()
    event = sqs_event(
        ('m-1', json.dumps({**EVENT, 'event_id': 'e-1'})),
        ('m-2', json.dumps({**EVENT, 'event_id': 'e-2'})),
        ('m-3', json.dumps({**EVENT, 'event_id': 'e-3', 'user_email': 'bob@example.com'})),
    )

    result = notifier_module.Notifier(sender).handle_batch(event)

    assert result == {'batchItemFailures': [{'itemIdentifier': 'm-2'}]}
    assert sender.sent == ['ada@example.com', 'bob@example.com']


# -- shipping and cancellation emails ---------------------------------------------

SHIPPED = {
    **EVENT,
    'event_type': 'order_shipped',
    'status': 'shipped',
    'shipment': {
        'carrier': 'DHL Express',
        'tracking_number': 'JD-0142',
        'shipped_at': EVENT['timestamp'],
        'tracking_url': 'https://track.example.com/?id=JD-0142&lang=en',
    },
}
CANCELLED = {
    **EVENT,
    'event_type': 'order_cancelled',
    'status': 'cancelled',
    'order_total': 109.97,
    'refund_due': 109.97,
    'reason': 'Found it cheaper',
}
HOSTILE = '"><script>alert(1)</script><a href="https://evil.example">'


def bodies(event):
    parsed = email.message_from_bytes(
        mail.build_email(event, 'a@b.c').as_bytes(), policy=policy.default
    )
    return (
        parsed['Subject'],
        parsed.get_body(('plain',)).get_content(),
        parsed.get_body(('html',)).get_content(),
    )


def test_shipping_email_names_carrier_and_tracking_number_and_links_the_tracking_page():
    _, text, html = bodies(SHIPPED)

    assert 'DHL Express' in text and 'JD-0142' in text
    assert 'https://track.example.com/?id=JD-0142&lang=en' in text
    assert '<strong>DHL Express</strong>' in html and '<strong>JD-0142</strong>' in html
    assert '<a href="https://track.example.com/?id=JD-0142&amp;lang=en">' in html


def test_shipping_email_escapes_a_hostile_carrier_in_html_and_keeps_it_in_text():
    event = {**SHIPPED, 'shipment': {**SHIPPED['shipment'], 'carrier': HOSTILE}}

    _, text, html = bodies(event)

    assert '<script>' not in html and '<a href="https://evil.example">' not in html
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in html
    assert html.count('<a ') == 1  # only the tracking link: the carrier made none
    assert HOSTILE in text


def test_shipping_email_link_cannot_break_out_of_its_attribute():
    url = 'https://track.example.com/"><script>alert(1)</script>'
    event = {**SHIPPED, 'shipment': {**SHIPPED['shipment'], 'tracking_url': url}}

    _, _, html = bodies(event)

    assert '<script>' not in html
    assert '<a href="https://track.example.com/&#34;&gt;&lt;script&gt;' in html


@pytest.mark.parametrize(
    'url',
    ['javascript:alert(1)', 'http://track.example.com/JD-0142', 'data:text/html,<b>x</b>', None],
)
def test_shipping_email_links_only_an_https_url(url):
    event = {**SHIPPED, 'shipment': {**SHIPPED['shipment'], 'tracking_url': url}}

    _, text, html = bodies(event)

    assert '<a ' not in html and 'Track it' not in text
    if url:
        assert url not in text and url not in html
    assert 'JD-0142' in text  # the tracking number is still given


@pytest.mark.parametrize('shipment', [None, 'missing'])
def test_shipping_email_without_shipment_details_still_renders(shipment):
    event = dict(SHIPPED)
    if shipment == 'missing':  # published before shipments existed
        del event['shipment']
    else:
        event['shipment'] = None

    subject, text, html = bodies(event)

    assert subject == 'Order #7 has shipped'
    assert 'on its way' in text and 'Carrier' not in text and '<a ' not in html


def test_cancellation_email_shows_the_reason_and_the_refund_due():
    subject, text, html = bodies(CANCELLED)

    assert subject == 'Order #7 has been cancelled'
    assert 'Found it cheaper' in text and 'Found it cheaper' in html
    assert 'Refund due: 109.97 USD' in text
    assert 'Refund due: <strong>109.97 USD</strong>' in html


def test_cancellation_email_of_an_unpaid_order_says_nothing_is_due():
    _, text, html = bodies({**CANCELLED, 'refund_due': 0, 'reason': None})

    assert 'Refund due: 0.00 USD (nothing had been paid)' in text
    assert '<strong>0.00 USD</strong> (nothing had been paid)' in html
    assert 'Reason' not in text and 'Reason' not in html


def test_cancellation_email_escapes_a_hostile_reason_in_html_and_keeps_it_in_text():
    _, text, html = bodies({**CANCELLED, 'reason': HOSTILE + '\nsecond line'})

    assert '<script>' not in html and '<a href="https://evil.example">' not in html
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in html
    assert '&#34;&gt;' in html
    assert HOSTILE + '\nsecond line' in text


def test_a_cancellation_event_is_read_with_its_refund_due():
    assert parse_event(json.dumps(CANCELLED)) == CANCELLED


@pytest.mark.parametrize('refund_due', ['109.97', None, True, 'missing'])
def test_a_cancellation_event_without_a_numeric_refund_due_is_unknown(refund_due):
    event = dict(CANCELLED)
    if refund_due == 'missing':
        del event['refund_due']
    else:
        event['refund_due'] = refund_due

    with pytest.raises(UnknownMessage):
        parse_event(json.dumps(event))


def test_a_batch_that_failed_whole_is_reported_not_raised(monkeypatch):
    from chalicelib.notify import notifier as notifier_module

    def exploding_build(event, sender):
        raise RuntimeError('an error nobody planned for')

    monkeypatch.setattr(notifier_module.mail, 'build_email', exploding_build)
    event = sqs_event(('m-1', json.dumps(EVENT)), ('m-2', json.dumps({**EVENT, 'event_id': 'e-2'})))

    result = notifier_module.Notifier(RecordingSender()).handle_batch(event)

    assert result == {'batchItemFailures': [{'itemIdentifier': 'm-1'}, {'itemIdentifier': 'm-2'}]}


def test_a_record_the_notifier_wants_retried_is_a_failure_and_garbage_is_not(monkeypatch):
    from chalicelib.notify import notifier as notifier_module

    monkeypatch.setattr(notifier_module, '_claim', lambda event_id: True)

    class ThrottledSender(RecordingSender):
        def send(self, message):
            raise RuntimeError('Throttling')

    monkeypatch.setattr(notifier_module, '_release', lambda event_id: None)
    event = sqs_event(('m-1', 'not json'), ('m-2', json.dumps(EVENT)))

    result = notifier_module.Notifier(ThrottledSender()).handle_batch(event)

    assert result == {'batchItemFailures': [{'itemIdentifier': 'm-2'}]}


# -- amounts with their currency ---------------------------------------------------


def test_amounts_are_written_with_their_currencys_decimals_and_code():
    _, text, html = bodies(
        {**CANCELLED, 'currency': 'JPY', 'order_total': 2400, 'refund_due': 2400}
    )

    assert 'Total:  2400 JPY' in text and 'Refund due: 2400 JPY' in text
    assert '2400 JPY' in html


def test_an_event_from_before_currencies_is_in_the_default_currency(monkeypatch):
    from chalicelib.platform.config import get_settings

    monkeypatch.setenv('DEFAULT_CURRENCY', 'EUR')
    get_settings.cache_clear()
    event = {name: value for name, value in CANCELLED.items() if name != 'currency'}

    _, text, _ = bodies(event)

    get_settings.cache_clear()
    assert 'Total:  109.97 EUR' in text


RETURN_EVENT = {
    **EVENT,
    'event_type': 'return_requested',
    'status': 'delivered',
    'return_id': 3,
    'return_status': 'requested',
    'items': [
        {
            'order_item_id': 12,
            'sku': 'MUG-1',
            'name': 'Mug',
            'quantity': 1,
            'reason': 'Too small',
            'received': None,
            'restocked': None,
        }
    ],
    'reason': None,
    'refund_id': None,
    'deduction': 0,
}


def test_a_return_event_is_read_with_its_return_and_lines():
    assert parse_event(json.dumps(RETURN_EVENT)) == RETURN_EVENT


@pytest.mark.parametrize(
    'changes',
    [
        {'return_id': None},
        {'return_id': '3'},
        {'items': None},
        {'items': [7]},
        {'items': [{'order_item_id': 12}]},
        {'items': [{'order_item_id': 12, 'quantity': '1'}]},
        {'items': [{'order_item_id': True, 'quantity': 1}]},
    ],
)
def test_a_return_event_without_its_return_id_or_lines_is_unknown(changes):
    with pytest.raises(UnknownMessage):
        parse_event(json.dumps({**RETURN_EVENT, **changes}))


# -- return emails ----------------------------------------------------------------

MUG = RETURN_EVENT['items'][0]
PLATE = {**MUG, 'order_item_id': 13, 'sku': 'PLT-2', 'name': 'Plate', 'quantity': 3, 'reason': None}


def return_event(event_type, **changes):
    return {
        **RETURN_EVENT,
        'event_type': event_type,
        'return_status': event_type.removeprefix('return_'),
        'items': [MUG, PLATE],
        **changes,
    }


@pytest.mark.parametrize(
    'event_type, subject',
    [
        ('return_requested', 'Return #3 for order #7: request received'),
        ('return_approved', 'Return #3 for order #7 approved'),
        ('return_declined', 'Return #3 for order #7 declined'),
    ],
)
def test_each_return_email_names_the_return_and_the_order(event_type, subject):
    assert bodies(return_event(event_type))[0] == subject


def test_a_received_return_sends_no_email_of_its_own():
    # The refund the receipt records sends the customer's email (order_refunded).
    assert not mail.wants_email('return_received')
    assert mail.wants_email('order_refunded')


def test_the_return_request_acknowledgement_lists_each_line_with_its_quantity():
    _, text, html = bodies(return_event('return_requested'))

    assert '  1 x Mug (MUG-1)\n      Reason: Too small\n  3 x Plate (PLT-2)\n' in text
    assert 'return #3' in text
    assert '<td>Mug (MUG-1)</td><td align="right">1</td>' in html
    assert '<td>Plate (PLT-2)</td><td align="right">3</td>' in html


def test_a_line_sold_without_a_name_or_sku_is_named_by_its_id():
    lines = [{**MUG, 'name': None}, {**PLATE, 'sku': None}, {**PLATE, 'name': None, 'sku': None}]

    _, text, _ = bodies(return_event('return_requested', items=lines))

    assert '1 x MUG-1\n' in text and '3 x Plate\n' in text and '3 x Item #13\n' in text


def test_the_approval_email_gives_the_configured_instructions_as_they_are_now(monkeypatch):
    from chalicelib.platform.config import get_settings

    instructions = 'Send it to:\nShop Returns <Dock 4>\n1 Quay Road & Co'
    monkeypatch.setenv('RETURN_INSTRUCTIONS', instructions)
    get_settings.cache_clear()

    _, text, html = bodies(return_event('return_approved'))

    get_settings.cache_clear()
    assert 'How to send them:\n' + instructions + '\n' in text
    assert 'Shop Returns &lt;Dock 4&gt;\n1 Quay Road &amp; Co' in html
    assert '<Dock 4>' not in html


def test_the_approval_email_without_configured_instructions_gives_the_default(monkeypatch):
    from chalicelib.platform.config import DEFAULT_RETURN_INSTRUCTIONS, get_settings

    monkeypatch.delenv('RETURN_INSTRUCTIONS', raising=False)
    get_settings.cache_clear()

    _, text, _ = bodies(return_event('return_approved'))

    get_settings.cache_clear()
    assert DEFAULT_RETURN_INSTRUCTIONS in text


def test_the_decline_email_gives_the_reason():
    _, text, html = bodies(return_event('return_declined', reason='Worn twice'))

    assert 'Reason given:\nWorn twice\n' in text
    assert '<p style="white-space: pre-line;">Worn twice</p>' in html


def test_return_emails_escape_a_hostile_reason_and_item_name_in_html_and_keep_them_in_text():
    hostile_line = {**MUG, 'name': HOSTILE, 'reason': HOSTILE}

    _, text, html = bodies(return_event('return_declined', items=[hostile_line], reason=HOSTILE))

    assert '<script>' not in html and '<a href="https://evil.example">' not in html
    assert html.count('&lt;script&gt;alert(1)&lt;/script&gt;') == 3
    assert text.count(HOSTILE) == 3


def test_return_emails_write_the_total_with_its_currency():
    _, text, html = bodies(return_event('return_approved', currency='JPY', order_total=2400))

    assert 'Total:  2400 JPY' in text and '<td>Total</td><td>2400 JPY</td>' in html


def test_a_return_event_record_sends_its_email_and_a_received_one_sends_none(monkeypatch):
    from chalicelib.notify import notifier as notifier_module

    monkeypatch.setattr(notifier_module, '_claim', lambda event_id: True)
    sender = RecordingSender()
    event = sqs_event(
        ('m-1', json.dumps(return_event('return_approved', event_id='e-1'))),
        ('m-2', json.dumps(return_event('return_received', event_id='e-2', refund_id=9))),
        ('m-3', json.dumps(return_event('return_declined', event_id='e-3', user_email='b@c.d'))),
    )

    result = notifier_module.Notifier(sender).handle_batch(event)

    assert result == {'batchItemFailures': []}
    assert sender.sent == ['ada@example.com', 'b@c.d']
