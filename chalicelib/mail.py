"""Emails for order events: rendered from templates (HTML autoescaped, so
order data can never inject markup), built as one MIME message, and sent
with SES or written as an .eml file, the same bytes either way."""
import functools
import os
import tempfile
import time
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from chalicelib.domain import ORDER_CREATED, ORDER_SHIPPED, ORDER_UPDATED

TEMPLATES = {
    ORDER_CREATED: ('confirmation', 'Order #{order_id} confirmed'),
    ORDER_SHIPPED: ('shipping', 'Order #{order_id} has shipped'),
    ORDER_UPDATED: ('status_update', 'Order #{order_id} is now {status}'),
}
LOCAL_SENDER = 'orders@localhost'


@functools.lru_cache(maxsize=1)
def _environment():
    # Jinja2 is imported only when the first email is rendered.
    import jinja2
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), 'templates')),
        autoescape=jinja2.select_autoescape(['html']),
        undefined=jinja2.StrictUndefined)


def wants_email(event_type):
    return event_type in TEMPLATES


def build_email(event, sender):
    """The MIME message for an event with a user_email and an emailing type."""
    template, subject = TEMPLATES[event['event_type']]
    subject = subject.format(order_id=event['order_id'], status=event['status'])
    context = {'event': event, 'subject': subject,
               'heading': subject,
               'total': f"{Decimal(str(event['order_total'])):.2f}"}
    env = _environment()
    message = EmailMessage()
    message['Subject'] = subject
    message['From'] = sender
    message['To'] = event['user_email']
    message['Date'] = formatdate(usegmt=True)
    message['Message-ID'] = make_msgid(domain=sender.rpartition('@')[2] or 'localhost')
    message['X-Order-Event-Id'] = event['event_id']
    message.set_content(env.get_template(f'{template}.txt').render(context))
    message.add_alternative(env.get_template(f'{template}.html').render(context),
                            subtype='html')
    return message


class SesSender:
    def __init__(self, ses_client, sender):
        self._client = ses_client  # a callable: the client is made on first use
        self.sender = sender

    def send(self, message):
        # Without Destinations, SES takes the recipients from the To header.
        self._client().send_raw_email(
            Source=self.sender, RawMessage={'Data': message.as_bytes()})


class MailDirSender:
    """Local stand-in for SES: each email becomes a file a mail client opens."""
    sender = LOCAL_SENDER

    def __init__(self, directory):
        self.directory = directory

    def send(self, message):
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{message['X-Order-Event-Id']}"
        os.makedirs(self.directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix='.tmp')
        with os.fdopen(fd, 'wb') as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, os.path.join(self.directory, f'{name}.eml'))
