"""A Stripe webhook body, read into typed values or refused. Pure: no
database, no network.

The signature (gateway.verify_event) says who sent a body, not that its
shape is an event's: a change in Stripe's payloads, or anyone holding the
webhook secret, can send any JSON. So the body is read here, once, into
frozen dataclasses holding only what the service reads, each value checked
for its type; any other shape is MalformedEvent (a 400), never an
AttributeError deep in a handler. Fields the service does not read are not
looked at: Stripe adds fields to its objects over time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import InvalidInput

PAYMENT_SUCCEEDED = 'payment_intent.succeeded'
REFUND_EVENTS = ('refund.created', 'refund.updated', 'refund.failed')
CHARGE_REFUNDED = 'charge.refunded'
READ = (PAYMENT_SUCCEEDED, CHARGE_REFUNDED, *REFUND_EVENTS)


class MalformedEvent(InvalidInput):
    def __init__(self, where: str) -> None:
        super().__init__(f'Not a well-formed Stripe event: {where}')


@dataclass(frozen=True)
class Origin:
    """Where an object says it comes from: its event's mode and connected
    account, and the deployment its metadata names."""

    livemode: bool
    account: str | None
    deployment: str | None


@dataclass(frozen=True)
class Intent:
    intent_id: str
    amount: int  # minor units received (amount when Stripe sends no amount_received)
    currency: str  # upper case, as the service writes currencies
    order_id: int | None  # metadata.order_id, when it is an id at all
    origin: Origin


@dataclass(frozen=True)
class StripeRefund:
    refund_id: str  # Stripe's re_...
    payment_intent: str | None
    amount: int
    currency: str
    status: str | None
    failure_reason: str | None
    our_refund_id: int | None  # metadata.refund_id
    origin: Origin


@dataclass(frozen=True)
class Event:
    event_id: str
    event_type: str
    intent: Intent | None = None  # payment_intent.succeeded
    refunds: tuple[StripeRefund, ...] = ()  # refund.* and charge.refunded


def parse(raw_body: bytes | str) -> Event:
    """The event in a (verified) body; MalformedEvent for any shape this
    service does not expect of an event it reads. An event of a type it does
    not read needs only its id and type."""
    try:
        body = json.loads(raw_body)
    except RecursionError:
        # Nested deeper than the parser's stack: no real event is.
        raise MalformedEvent('nested too deeply') from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent('not JSON') from None
    event = _object(body, 'the body')
    event_id, event_type = _text(event, 'id'), _text(event, 'type')
    if event_type not in READ:
        return Event(event_id, event_type)
    livemode = event.get('livemode')
    if not isinstance(livemode, bool):
        raise MalformedEvent('livemode')
    account = event.get('account')
    if account is not None and not isinstance(account, str):
        raise MalformedEvent('account')
    subject = _object(_object(event.get('data'), 'data').get('object'), 'data.object')
    if event_type == PAYMENT_SUCCEEDED:
        return Event(event_id, event_type, intent=_intent(subject, livemode, account))
    if event_type == CHARGE_REFUNDED:
        if subject.get('refunds') is None:
            # Stripe's API versions since 2022-11-15 leave a charge's refunds
            # out of the event: each refund's own refund.* event settles it.
            return Event(event_id, event_type)
        listed = _object(subject.get('refunds'), 'refunds').get('data')
        if not isinstance(listed, list):
            raise MalformedEvent('refunds.data')
        return Event(
            event_id,
            event_type,
            refunds=tuple(_refund(_object(r, 'a refund'), livemode, account) for r in listed),
        )
    return Event(event_id, event_type, refunds=(_refund(subject, livemode, account),))


def intent_of(found: dict[str, Any]) -> Intent:
    """A PaymentIntent as Stripe's API answers it (no event around it)."""
    livemode = found.get('livemode')
    if not isinstance(livemode, bool):
        raise MalformedEvent('livemode')
    return _intent(found, livemode, None)


def _intent(value: dict[str, Any], livemode: bool, account: str | None) -> Intent:
    received = value.get('amount_received')
    if received is None or received == 0:
        received = value.get('amount')
    metadata = _metadata(value)
    return Intent(
        intent_id=_text(value, 'id'),
        amount=_units(received, 'amount'),
        currency=_text(value, 'currency').upper(),
        order_id=_id(metadata.get('order_id')),
        origin=Origin(livemode, account, metadata.get('deployment')),
    )


def _refund(value: dict[str, Any], livemode: bool, account: str | None) -> StripeRefund:
    metadata = _metadata(value)
    return StripeRefund(
        refund_id=_text(value, 'id'),
        payment_intent=_optional_text(value, 'payment_intent'),
        amount=_units(value.get('amount'), 'amount'),
        currency=_text(value, 'currency').upper(),
        status=_optional_text(value, 'status'),
        failure_reason=_optional_text(value, 'failure_reason'),
        our_refund_id=_id(metadata.get('refund_id')),
        origin=Origin(livemode, account, metadata.get('deployment')),
    )


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(where)
    return value


def _text(value: dict[str, Any], name: str) -> str:
    found = value.get(name)
    if not isinstance(found, str) or not found or len(found) > 255:
        raise MalformedEvent(name)
    return found


def _optional_text(value: dict[str, Any], name: str) -> str | None:
    return None if value.get(name) is None else _text(value, name)


def _units(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        raise MalformedEvent(where)
    return value


def _metadata(value: dict[str, Any]) -> dict[str, str]:
    """Stripe metadata: string keys to string values (absent: none)."""
    metadata = value.get('metadata')
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
        isinstance(entry, str) for entry in metadata.values()
    ):
        raise MalformedEvent('metadata')
    return metadata


def _id(value: str | None) -> int | None:
    """A positive id as the service writes it into metadata, else None."""
    if value is not None and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value) or None
    return None
