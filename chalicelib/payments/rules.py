"""What a payment or a refund may be. Pure: no database, no HTTP, no AWS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from chalicelib.core import money
from chalicelib.core.errors import InvalidInput, PaymentConflict

if TYPE_CHECKING:
    # Its dataclasses cost a cold start milliseconds: loaded by the webhook's path.
    from chalicelib.payments.events import Origin

PENDING, SUCCEEDED, FAILED = 'pending', 'succeeded', 'failed'
# Stripe's refund statuses, as ours: the rest (requires_action) are still pending.
_STRIPE_REFUND_STATUS = {'succeeded': SUCCEEDED, 'failed': FAILED, 'canceled': FAILED}


def refund_status_of(stripe_status: str | None) -> str:
    return _STRIPE_REFUND_STATUS.get(stripe_status or '', PENDING)


def payment_key(namespace: str, order_id: int) -> str:
    """The Stripe idempotency key of an order's one PaymentIntent: with the
    deployment's namespace, so that two stages sharing a Stripe account never
    answer each other's order of the same id with the same intent."""
    return f'{namespace}-payment-{order_id}'


def refund_key(namespace: str, refund_id: int | str) -> str:
    """A refund row's (its id), or a deleted order's payment's (its
    PaymentIntent id, pi_...: never a refund id)."""
    return f'{namespace}-refund-{refund_id}'


def foreign(
    origin: Origin,
    namespace: str,
    livemode: bool,
    reference: str | None,
    stored_reference: str | None,
    money_sent: tuple[int, str] | None = None,
    money_stored: tuple[int, str] | None = None,
) -> str | None:
    """Why a Stripe object is not this deployment's, or None when it is: an
    event binds to its order only when it carries no connected account, its
    mode is the key's, its metadata names this deployment, its PaymentIntent
    (`reference`) is the one stored with the order or refund it names and,
    for a refund, its amount and currency (minor units) are the row's.
    Stripe sends every event of an account to every endpoint: another stage's,
    another integration's and a forged intent's events all arrive here."""
    if origin.account is not None:
        return f'it comes from the connected account {origin.account}'
    if origin.livemode != livemode:
        return (
            f'livemode is {origin.livemode} and the key is a {"live" if livemode else "test"} key'
        )
    if origin.deployment != namespace:
        return f'its metadata.deployment is {origin.deployment!r}, not {namespace!r}'
    if stored_reference is None or reference != stored_reference:
        return f'its PaymentIntent {reference} is not the one stored ({stored_reference})'
    if money_sent != money_stored:
        return f'it gives back {money_sent}, the refund is {money_stored}'
    return None


def check_payable(order_id: int, status: str, total: Decimal) -> None:
    if status != 'pending':
        raise PaymentConflict(
            f"Order {order_id} is '{status}': only a pending order takes a payment"
        )
    if total <= 0:
        raise PaymentConflict(f'Order {order_id} has nothing to pay')


def matches(order_total: Decimal, currency: str, paid_units: object, paid_currency: object) -> bool:
    """Whether a provider's payment (minor units, lower-case currency) is the order's total."""
    return (
        type(paid_units) is int
        and isinstance(paid_currency, str)
        and paid_currency.upper() == currency
        and paid_units == money.to_minor_units(order_total, currency)
    )


def refundable(amount_paid: Decimal, amount_refunded: Decimal, pending: Decimal) -> Decimal:
    """What may still be refunded: paid, less refunded, less being refunded."""
    return max(amount_paid - amount_refunded - pending, money.ZERO)


def items_amount(
    requested: Iterable[Mapping[str, int]],
    ordered: Mapping[int, tuple[int, Decimal]],
    refunded: Mapping[int, int],
) -> Decimal:
    """quantity x price_at_order over the lines asked for. `ordered`: order_item_id ->
    (quantity, price_at_order); `refunded`: order_item_id -> quantity refunded or
    being refunded. A line not of this order is a 400; more of a line than is
    left of it, a 409."""
    unknown, too_many = {}, {}
    asked: dict[int, int] = {}
    for index, line in enumerate(requested):
        item_id = line['order_item_id']
        if item_id not in ordered:
            unknown[str(index)] = {'order_item_id': ['Not an item of this order.']}
            continue
        asked[item_id] = asked.get(item_id, 0) + line['quantity']
    if unknown:
        raise InvalidInput('Invalid refund', {'items': unknown})
    total = money.ZERO
    for item_id, quantity in asked.items():
        left = ordered[item_id][0] - refunded.get(item_id, 0)
        if quantity > left:
            too_many[str(item_id)] = [f'Only {left} of this line may still be refunded.']
        total += ordered[item_id][1] * quantity
    if too_many:
        raise PaymentConflict('More of a line than is left to refund', {'items': too_many})
    return total


def check_refund(order_id: int, amount: Decimal, left: Decimal, currency: str) -> Decimal:
    if not money.fits_currency(amount, currency):
        raise InvalidInput(
            'Invalid refund', {'amount': [f'Must have no more decimals than {currency} allows.']}
        )
    if left <= 0:
        raise PaymentConflict(f'Order {order_id} has nothing left to refund')
    if amount <= 0:
        raise InvalidInput('Invalid refund', {'amount': ['Must be greater than 0.']})
    if amount > left:
        raise PaymentConflict(
            f'Order {order_id} has {money.to_text(left, currency)} {currency} left to refund, '
            f'less than {money.to_text(amount, currency)}'
        )
    return amount
