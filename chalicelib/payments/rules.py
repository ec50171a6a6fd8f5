"""What a payment or a refund may be. Pure: no database, no HTTP, no AWS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from chalicelib.core import money
from chalicelib.core.errors import InvalidInput, PaymentConflict

STRIPE = 'stripe'
PENDING, SUCCEEDED, FAILED = 'pending', 'succeeded', 'failed'
# Stripe's refund statuses, as ours: the rest (requires_action) are still pending.
_STRIPE_REFUND_STATUS = {'succeeded': SUCCEEDED, 'failed': FAILED, 'canceled': FAILED}


def refund_status_of(stripe_status: str | None) -> str:
    return _STRIPE_REFUND_STATUS.get(stripe_status or '', PENDING)


def payment_key(order_id: int) -> str:
    """The Stripe idempotency key of an order's one PaymentIntent."""
    return f'orders-payment-{order_id}'


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
