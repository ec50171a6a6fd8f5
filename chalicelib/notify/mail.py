"""Emails for order and return events: rendered from templates (HTML autoescaped, so
order data can never inject markup) and built as one MIME message, which a
sender (senders.py) hands to SES or writes as an .eml file."""

from __future__ import annotations

import functools
import os
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, TypedDict

from chalicelib.core import money
from chalicelib.events.messages import (
    ORDER_CANCELLED,
    ORDER_CREATED,
    ORDER_REFUNDED,
    ORDER_SHIPPED,
    ORDER_UPDATED,
    RETURN_APPROVED,
    RETURN_DECLINED,
    RETURN_EVENTS,
    RETURN_REQUESTED,
    EventBody,
    ReturnLine,
    Shipment,
)
from chalicelib.platform.config import get_settings

if TYPE_CHECKING:
    import jinja2

TEMPLATES = {
    ORDER_CREATED: ('confirmation', 'Order #{order_id} confirmed'),
    ORDER_SHIPPED: ('shipping', 'Order #{order_id} has shipped'),
    ORDER_CANCELLED: ('cancellation', 'Order #{order_id} has been cancelled'),
    ORDER_UPDATED: ('status_update', 'Order #{order_id} is now {status}'),
    ORDER_REFUNDED: ('refund', 'Refund for order #{order_id}'),
    RETURN_REQUESTED: (
        'return_requested',
        'Return #{return_id} for order #{order_id}: request received',
    ),
    RETURN_APPROVED: ('return_approved', 'Return #{return_id} for order #{order_id} approved'),
    RETURN_DECLINED: ('return_declined', 'Return #{return_id} for order #{order_id} declined'),
    # return_received has none: the refund it records sends its own email.
}
# The subject of an order_updated that carries the breakdown (an address change).
_DETAILS_CHANGED = 'Order #{order_id} updated'


class ShippingLines(TypedDict):
    """Template values; all None when the event carries no shipment."""

    carrier: str | None
    tracking_number: str | None
    tracking_link: str | None


class RefundLines(TypedDict, total=False):
    """Template values that only a refund's email has: empty for the rest."""

    refund_amount: str
    amount_refunded: str | None


class ReturnEmailLine(TypedDict):
    """One line of a return as its email writes it."""

    label: str
    quantity: int
    reason: str | None


class ReturnDetailsLines(TypedDict, total=False):
    """Template values that only a return's email has: empty for the rest."""

    return_id: int
    return_lines: list[ReturnEmailLine]
    instructions: str | None


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # Jinja2 is imported only when the first email is rendered.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), 'templates')),
        autoescape=jinja2.select_autoescape(['html']),
        undefined=jinja2.StrictUndefined,
    )


def wants_email(event_type: str) -> bool:
    return event_type in TEMPLATES


def _shipping(shipment: Shipment | None) -> ShippingLines:
    """The tracking lines of a shipping email. An event published before
    shipments existed has none. A link is offered only for https (the
    service accepts nothing else; this holds for whatever reaches the topic)."""
    found: Shipment | dict[str, None] = shipment if isinstance(shipment, dict) else {}
    url = found.get('tracking_url')
    return {
        'carrier': found.get('carrier'),
        'tracking_number': found.get('tracking_number'),
        'tracking_link': url
        if isinstance(url, str) and url.lower().startswith('https://')
        else None,
    }


def _refund(event: EventBody, currency: str) -> RefundLines:
    """The amounts of a refund email, each with its currency."""
    if event['event_type'] != ORDER_REFUNDED:
        return {}
    return {
        'refund_amount': money.display(event['amount'], currency),
        'amount_refunded': (
            money.display(event['amount_refunded'], currency)
            if event.get('amount_refunded') is not None
            else None
        ),
    }


def _line_label(line: ReturnLine) -> str:
    """What the customer bought, as it was sold: the name and sku it had
    then (an order line from before the catalog may have neither)."""
    name, sku = line.get('name'), line.get('sku')
    if name and sku:
        return f'{name} ({sku})'
    return name or sku or f'Item #{line["order_item_id"]}'


def _return(event: EventBody) -> ReturnDetailsLines:
    """The return and its lines; for an approval, how to send the goods
    (RETURN_INSTRUCTIONS as the notifier is configured now, not as it was
    when the return was approved)."""
    if event['event_type'] not in RETURN_EVENTS:
        return {}
    return {
        'return_id': event['return_id'],
        'return_lines': [
            {'label': _line_label(line), 'quantity': line['quantity'], 'reason': line.get('reason')}
            for line in event['items']
        ],
        'instructions': (
            get_settings().return_instructions if event['event_type'] == RETURN_APPROVED else None
        ),
    }


def _breakdown(event: EventBody, currency: str) -> list[tuple[str, str]]:
    """(label, amount) of what the total is made of, for the events that
    carry it (order_created); empty for the others and for older events."""
    if 'subtotal' not in event:
        return []
    return [
        (label, money.display(amount, currency))
        for label, amount in (
            ('Subtotal', event['subtotal']),
            ('Discount', event.get('discount_total', 0)),
            ('Shipping', event.get('shipping_total', 0)),
            ('Tax', event.get('tax_total', 0)),
        )
    ]


def build_email(event: EventBody, sender: str) -> EmailMessage:
    """The MIME message for an event with a user_email and an emailing type."""
    template, subject = TEMPLATES[event['event_type']]
    if event['event_type'] == ORDER_UPDATED and 'subtotal' in event:
        # An address change (with or without a status): its totals may have moved.
        subject = _DETAILS_CHANGED
    subject = subject.format(
        order_id=event['order_id'], status=event['status'], return_id=event.get('return_id')
    )
    # An event published before events carried a currency is in the one
    # every older order was upgraded to.
    currency = event.get('currency') or get_settings().default_currency
    context = {
        'event': event,
        'subject': subject,
        'heading': subject,
        'total': money.display(event['order_total'], currency),
        'breakdown': _breakdown(event, currency),
        **_shipping(event.get('shipment')),
        'reason': event.get('reason'),
        'refund_due': (
            money.display(event['refund_due'], currency)
            if event.get('refund_due') is not None
            else None
        ),
        'nothing_paid': event.get('refund_due') == 0,
        **_refund(event, currency),
        **_return(event),
    }
    env = _environment()
    message = EmailMessage()
    message['Subject'] = subject
    message['From'] = sender
    message['To'] = event['user_email']
    message['Date'] = formatdate(usegmt=True)
    message['Message-ID'] = make_msgid(domain=sender.rpartition('@')[2] or 'localhost')
    message['X-Order-Event-Id'] = event['event_id']
    message.set_content(env.get_template(f'{template}.txt').render(context))
    message.add_alternative(env.get_template(f'{template}.html').render(context), subtype='html')
    return message
